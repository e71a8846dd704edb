"""Entry point of `pulumi up`: the program lives in the eks_gitops package."""

from eks_gitops.program import main

main()
