"""What the components declare, computed from settings by pure functions: names, address plans,
policy documents, kubeconfig, key parameters. Tested without the mock engine."""
