import pytest

from components.ground import quantities


@pytest.mark.parametrize(
    ("value", "millis"),
    [
        ("1", 1000),
        ("500m", 500),
        ("1.5", 1500),
        ("2", 2000),
        # The edges of its precision: three decimals, seven digits.
        ("0.001", 1),
        ("1.999", 1999),
        ("9999999", 9999999000),
        ("1m", 1),
    ],
)
def test_cpu_quantities_become_millicores(value: str, millis: int) -> None:
    assert quantities.cpu_millis(value) == millis


@pytest.mark.parametrize(
    ("machine", "vcpus", "gib"),
    [
        ("e2-standard-4", 4, 16),
        ("n2-highmem-8", 8, 64),
        ("c3-highcpu-22", 22, 22),
        ("n1-standard-2", 2, 7.5),
        ("e2-medium", 2, 4),
        ("n2-custom-6-20480", 6, 20),
        # Every kind of name: shared-core, n1's own ratios, highmem and highcpu, custom with -ext and without family.
        ("e2-micro", 2, 1),
        ("e2-small", 2, 2),
        ("n1-highmem-2", 2, 13),
        ("n1-highcpu-4", 4, 3.6),
        ("n2-highcpu-16", 16, 16),
        ("e2-highmem-2", 2, 16),
        ("n2-custom-4-6144-ext", 4, 6),
        ("custom-2-4096", 2, 4),
    ],
)
def test_machine_shapes_come_from_the_type_name(machine: str, vcpus: int, gib: float) -> None:
    shape = quantities.machine_shape(machine)
    assert shape is not None
    assert shape.vcpus == vcpus
    assert shape.memory_bytes == int(gib * 1024**3)


def test_one_cpu_workers_leave_room_for_gke_on_a_four_core_node() -> None:
    shape = quantities.machine_shape("e2-standard-4")
    assert shape is not None
    assert quantities.workers_per_node(shape, 1000, 2 * 1024**3) == 3


def test_memory_can_be_the_binding_limit() -> None:
    shape = quantities.machine_shape("e2-highcpu-8")  # 8 vCPU, 8 GiB
    assert shape is not None
    assert quantities.workers_per_node(shape, 500, 2 * 1024**3) == 2


# Boundaries, each written out (GKE's tiers: plan-node-sizes, "Memory and CPU reservations").
@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("1", 1),
        ("1k", 1000),
        ("1K", 1000),
        ("1M", 1000**2),
        ("1T", 1000**4),
        ("1Ki", 1024),
        ("1Mi", 1024**2),
        ("1Ti", 1024**4),
        ("2Gi", 2 * 1024**3),
        ("512Mi", 512 * 1024**2),
        ("1G", 10**9),
        ("1.5Gi", 3 * 512 * 1024**2),
        ("0.5", 0),
        ("999999999999", 999999999999),
    ],
)
def test_every_memory_suffix_is_read_as_kubernetes_reads_it(value: str, size: int) -> None:
    assert quantities.memory_bytes(value) == size
    assert quantities.memory_mib(value) == size // 1024**2


@pytest.mark.parametrize(
    "value", ["", "1 Gi", "two", "1Gb", "-1Gi", "1000000000000", "1.1234567Gi", "1Pi", "1m", "٣Gi", "1Gi\n"]
)
def test_malformed_memory_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match="memory quantity"):
        quantities.memory_bytes(value)


@pytest.mark.parametrize("value", ["0.0001", "10000000", "1.5.0", "", "1 ", "-1", "1Gi"])
def test_cpu_beyond_what_kubepar_reads_is_rejected(value: str) -> None:
    with pytest.raises(ValueError, match=r"^expected a CPU quantity such as 1, 0.5 or 500m$"):
        quantities.cpu_millis(value)


@pytest.mark.parametrize(
    "machine", ["a3-megagpu-8g", "e2-standard", "e2-ultramem-4", "n2-standard-4-extra", "E2-standard-4", "e2-custom-4"]
)
def test_names_that_are_no_machine_have_no_shape(machine: str) -> None:
    assert quantities.machine_shape(machine) is None


@pytest.mark.parametrize(
    ("vcpus", "millis"), [(1, 60), (2, 70), (3, 75), (4, 80), (5, 83), (6, 85), (8, 90), (32, 150)]
)
def test_cpu_reservation_at_each_step(vcpus: int, millis: int) -> None:
    # 6% of core 1, 1% of core 2, 0.5% of cores 3-4, 0.25% of each above, rounded up.
    assert quantities.gke_reserved_cpu_millis(vcpus) == millis


@pytest.mark.parametrize(
    ("gib", "reserved_mib"),
    [
        (1, 256 + 100),
        (4, 1024 + 100),
        (6, 1024 + 409 + 100),
        (8, 1024 + 819 + 100),
        (16, 1024 + 819 + 819 + 100),
        (128, 1024 + 819 + 819 + 6881 + 100),
        # 1024 + 819.2 + 819.2 + 6881.28 + 2621.44 + 100 = 12265.12 MiB.
        (256, 12265),
    ],
)
def test_memory_reservation_at_each_tier(gib: int, reserved_mib: int) -> None:
    # 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112, 2% above; 100 MiB eviction.
    assert quantities.gke_reserved_memory_bytes(gib * 1024**3) // 1024**2 == reserved_mib


def test_a_node_too_small_for_gke_leaves_no_room() -> None:
    # e2-micro: 1 GiB less 356 MiB reserved and 600 MiB of DaemonSets leaves 68 MiB.
    shape = quantities.machine_shape("e2-micro")
    assert shape is not None
    assert quantities.allocatable(shape) == (1530, 68 * 1024**2)
    assert quantities.workers_per_node(shape, 100, 68 * 1024**2) == 1
    assert quantities.workers_per_node(shape, 100, 68 * 1024**2 + 1) == 0
    assert quantities.workers_per_node(shape, 1531, 1) == 0
    tiny = quantities.MachineShape(vcpus=1, memory_bytes=512 * 1024**2)
    assert quantities.workers_per_node(tiny, 1, 1) == 0


@pytest.mark.parametrize(("cpu", "whole"), [("500m", "1"), ("1", "1"), ("1999m", "1"), ("2500m", "2"), ("16", "16")])
def test_thread_counts_are_whole_cpus_and_at_least_one(cpu: str, whole: str) -> None:
    assert quantities.whole_cpus(cpu) == whole


def test_a_machine_shape_cannot_be_changed_once_made() -> None:
    shape = quantities.machine_shape("e2-standard-4")
    assert shape is not None
    with pytest.raises(AttributeError):
        shape.vcpus = 8  # type: ignore[misc]
