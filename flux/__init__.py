"""Pure Flux logic, shaped like Flux's own generators: `install` (the release manifest: parse, select
components, move namespace, order), `release` (download and cache of that manifest) and `sync` (the
bootstrap GitRepository and Kustomization). Nothing here declares a Pulumi resource."""
