"""Entry point of the gke-inference component package: hosts the facades of ``gke_inference_components``.

Pulumi runs this file as the plugin (PulumiPlugin.yaml); the schema every language's SDK is generated from
is inferred from the facades' type annotations and docstrings (``pulumi.provider.experimental.analyzer``).
"""

from gke_inference_components import COMPONENTS, PACKAGE_NAME, package_version
from pulumi.provider.experimental import component_provider_host

if __name__ == "__main__":
    component_provider_host(COMPONENTS, name=PACKAGE_NAME, version=package_version())
