import pytest

from leakbench.units import SizeError, format_size, parse_size


@pytest.mark.parametrize(
    "text,expected",
    [
        ("50MB", 50_000_000),
        ("50 MB", 50_000_000),
        ("50MiB", 50 * 2**20),
        ("512KB", 512_000),
        ("1.5GB", 1_500_000_000),
        ("1048576", 2**20),
        ("1gib", 2**30),
        (4096, 4096),
    ],
)
def test_sizes_people_write(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["fifty MB", "-1MB", "50XB", "", "MB", "1.2.3MB", True])
def test_bad_sizes_say_what_to_write(text):
    with pytest.raises(SizeError, match="50MB"):
        parse_size(text)


def test_format_size():
    assert format_size(50 * 2**20) == "50 MiB"
    assert format_size(-1536, signed=True) == "-1.5 KiB"
    assert format_size(None) == "-"
