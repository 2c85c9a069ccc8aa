import pytest

from components.ground import quantities


@pytest.mark.parametrize(("value", "millis"), [("1", 1000), ("500m", 500), ("1.5", 1500), ("2", 2000)])
def test_cpu_quantities_become_millicores(value: str, millis: int) -> None:
    assert quantities.cpu_millis(value) == millis


@pytest.mark.parametrize(("value", "size"), [("2Gi", 2 * 1024**3), ("512Mi", 512 * 1024**2), ("1G", 10**9)])
def test_memory_quantities_become_bytes(value: str, size: int) -> None:
    assert quantities.memory_bytes(value) == size


@pytest.mark.parametrize("value", ["", "1 Gi", "two", "1Gb", "-1Gi"])
def test_malformed_memory_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="memory quantity"):
        quantities.memory_bytes(value)


@pytest.mark.parametrize(
    ("machine", "vcpus", "gib"),
    [
        ("e2-standard-4", 4, 16),
        ("n2-highmem-8", 8, 64),
        ("c3-highcpu-22", 22, 22),
        ("n1-standard-2", 2, 7.5),
        ("e2-medium", 2, 4),
        ("n2-custom-6-20480", 6, 20),
    ],
)
def test_machine_shapes_come_from_the_type_name(machine: str, vcpus: int, gib: float) -> None:
    shape = quantities.machine_shape(machine)
    assert shape is not None
    assert shape.vcpus == vcpus
    assert shape.memory_bytes == int(gib * 1024**3)


def test_unknown_machine_family_has_no_shape() -> None:
    assert quantities.machine_shape("a3-megagpu-8g") is None


def test_gke_cpu_reservation_follows_the_published_tiers() -> None:
    # 6% of core 1 + 1% of core 2 + 0.5% of cores 3-4 = 80m; +0.25% per core above 4.
    assert quantities.gke_reserved_cpu_millis(1) == 60
    assert quantities.gke_reserved_cpu_millis(4) == 80
    assert quantities.gke_reserved_cpu_millis(8) == 90


def test_one_cpu_workers_leave_room_for_gke_on_a_four_core_node() -> None:
    shape = quantities.machine_shape("e2-standard-4")
    assert shape is not None
    assert quantities.workers_per_node(shape, 1000, 2 * 1024**3) == 3


def test_memory_can_be_the_binding_limit() -> None:
    shape = quantities.machine_shape("e2-highcpu-8")  # 8 vCPU, 8 GiB
    assert shape is not None
    assert quantities.workers_per_node(shape, 500, 2 * 1024**3) == 2
