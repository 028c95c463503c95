"""kafka-python checks every record batch with CRC32C; its pure-Python version took about a tenth of the
benchmark's CPU. The pinned `crc32c` package gives it the C one."""

from kafka.record import util


def test_record_batches_are_checked_with_the_c_crc32c() -> None:
    assert util._crc32c is not util.crc32c_py, "pip install -r requirements.txt (crc32c) is missing"
    assert util.calc_crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
