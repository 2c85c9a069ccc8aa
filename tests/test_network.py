"""Network: dedicated VPC, subnet with secondary ranges, NAT for private nodes."""

from __future__ import annotations

from tests.conftest import only, program


def test_subnet_carries_pod_and_service_ranges() -> None:
    subnet = only(program("dev").of_type("gcp:compute/subnetwork:Subnetwork")).inputs
    assert subnet["region"] == "europe-west1"
    assert subnet["ipCidrRange"] == "10.10.0.0/20"
    assert subnet["secondaryIpRanges"] == [
        {"rangeName": "pods", "ipCidrRange": "10.20.0.0/14"},
        {"rangeName": "services", "ipCidrRange": "10.24.0.0/20"},
    ]
    assert subnet["privateIpGoogleAccess"] is True


def test_vpc_has_no_automatic_subnets() -> None:
    vpc = only(program("dev").of_type("gcp:compute/network:Network")).inputs
    assert vpc["autoCreateSubnetworks"] is False


def test_cluster_uses_the_subnet_ranges_by_name() -> None:
    cluster = only(program("dev").of_type("gcp:container/cluster:Cluster")).inputs
    assert cluster["ipAllocationPolicy"] == {
        "clusterSecondaryRangeName": "pods",
        "servicesSecondaryRangeName": "services",
    }


def test_nat_serves_the_cluster_subnet() -> None:
    nat = only(program("dev").of_type("gcp:compute/routerNat:RouterNat")).inputs
    assert nat["sourceSubnetworkIpRangesToNat"] == "LIST_OF_SUBNETWORKS"
    assert nat["subnetworks"][0]["sourceIpRangesToNats"] == ["ALL_IP_RANGES"]
    assert nat["region"] == "europe-west1"
