"""Stack-file pins: read from the parsed file, written into the text, a digest with its version."""

from __future__ import annotations

import pytest

from tools.promotion.pins import FLUX_VERSION, PinError, promoted_stack, with_values

DIGEST = "0123456789" * 6 + "abcd"


def stack(version: str, digest: str | None = None, kubernetes: str = "1.35") -> str:
    pin = f'    manifestsSha256: "{digest}"  # make pin-flux\r\n' if digest else ""
    return (
        "# a stack\r\nconfig:\r\n  aws:region: eu-west-1\r\n"
        f'  eks-gitops:cluster:\r\n    kubernetesVersion: "{kubernetes}"  # EKS\r\n'
        f"  eks-gitops:toolkit:\r\n    version: {version}\r\n{pin}"
        "    components: [source-controller]\r\n  # sync next\r\n"
    )


def test_values_are_set_in_their_lines_keeping_quotes_comments_and_line_endings() -> None:
    text = stack("v2.9.4")
    edited = with_values(text, {FLUX_VERSION: "v2.10.0", (*FLUX_VERSION[:2], "x"): "1"})
    assert edited == text.replace("version: v2.9.4", "version: v2.10.0").replace(
        "    components: [source-controller]\r\n",
        '    components: [source-controller]\r\n    x: "1"\r\n',
    )
    quoted = ("config", "eks-gitops:cluster", "kubernetesVersion")
    assert with_values(text, {quoted: "1.36"}) == text.replace('"1.35"', '"1.36"')


def test_a_key_without_its_mapping_is_refused() -> None:
    with pytest.raises(PinError, match="eks-gitops:network"):
        with_values(stack("v2.9.4"), {("config", "eks-gitops:network", "vpcCidr"): "10.0.0.0/16"})


def test_the_digest_moves_with_its_version() -> None:
    promotion = promoted_stack(stack("v2.10.0", DIGEST), stack("v2.9.4"), "dev", "qa")
    assert [(c.name, c.old, c.new) for c in promotion.changes] == [
        ("eks-gitops:toolkit.version", "v2.9.4", "v2.10.0"),
        ("eks-gitops:toolkit.manifestsSha256", None, DIGEST),
    ]
    assert promotion.text == stack("v2.10.0").replace(
        "    components: [source-controller]\r\n",
        f'    components: [source-controller]\r\n    manifestsSha256: "{DIGEST}"\r\n',
    )


def test_a_target_digest_for_the_same_version_stays() -> None:
    target = stack("v2.9.4", DIGEST, kubernetes="1.34")
    promotion = promoted_stack(stack("v2.9.4"), target, "dev", "qa")
    assert promotion.text == stack("v2.9.4", DIGEST)


def test_a_target_digest_for_another_version_is_refused() -> None:
    with pytest.raises(PinError, match=r"make pin-flux STACK=dev"):
        promoted_stack(stack("v2.10.0"), stack("v2.9.4", DIGEST), "dev", "qa")
