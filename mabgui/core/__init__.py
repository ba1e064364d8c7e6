"""Qt-free core: adapters to docker, buildx, binfmt_misc and registries, and plain data types."""
