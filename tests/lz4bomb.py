"""A hand-made LZ4 frame of zeros (ratio ~255:1) and an AEDAT 4 file whose event packet is such a frame: a
decompression bomb built from the committed asset without an LZ4 library."""
from __future__ import annotations

import struct


def xxh32(data, seed=0):
    P1, P2, P3, P4, P5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    M = 0xFFFFFFFF
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & M
    n = len(data); i = 0
    if n >= 16:
        v = [(seed + P1 + P2) & M, (seed + P2) & M, seed & M, (seed - P1) & M]
        while i + 16 <= n:
            for k in range(4):
                lane = struct.unpack_from('<I', data, i + 4 * k)[0]
                v[k] = (rotl((v[k] + lane * P2) & M, 13) * P1) & M
            i += 16
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) + rotl(v[3], 18)) & M
    else:
        h = (seed + P5) & M
    h = (h + n) & M
    while i + 4 <= n:
        h = (rotl((h + struct.unpack_from('<I', data, i)[0] * P3) & M, 17) * P4) & M; i += 4
    while i < n:
        h = (rotl((h + data[i] * P5) & M, 11) * P1) & M; i += 1
    h ^= h >> 15; h = (h * P2) & M; h ^= h >> 13; h = (h * P3) & M; h ^= h >> 16
    return h

def lz4_block_zeros(size):
    # one literal 0, a match (offset 1) of size-6 bytes, then 5 literal bytes
    match = size - 6
    ext = match - 4 - 15
    out = bytearray([0x1F, 0x00]) + struct.pack('<H', 1)
    out += b'\xff' * (ext // 255) + bytes([ext % 255])
    out += bytes([0x50]) + bytes(5)
    return bytes(out)
def lz4_frame_zeros(total, block=4 << 20):
    flg, bd = 0x60, 0x70
    out = bytearray(b'\x04\x22\x4d\x18') + bytes([flg, bd, (xxh32(bytes([flg, bd])) >> 8) & 0xFF])
    blk = lz4_block_zeros(block)
    for _ in range(total // block):
        out += struct.pack('<I', len(blk)) + blk
    out += struct.pack('<I', 0)
    return bytes(out)


def aedat4_bomb(asset: bytes, decompressed: int) -> bytes:
    """``asset`` (an AEDAT 4 file whose data table starts at the end of its first packet) with that packet replaced
    by an LZ4 frame of ``decompressed`` zero bytes, and the data-table position patched to match."""
    n = struct.unpack_from("<I", asset, 14)[0]
    head = bytearray(asset[:18 + n])
    first = 18 + n
    size = struct.unpack_from("<I", asset, first + 4)[0]
    table_at = first + 8 + size
    i = head.find(struct.pack("<q", table_at))
    assert i > 0, "data-table position not found in the IOHeader"
    frame = lz4_frame_zeros(decompressed)
    packet = struct.pack("<iI", 0, len(frame)) + frame
    struct.pack_into("<q", head, i, len(head) + len(packet))
    return bytes(head) + packet + asset[table_at:]
