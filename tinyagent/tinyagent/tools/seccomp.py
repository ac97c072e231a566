"""A small seccomp filter for the sandbox: refuse the syscalls sandboxed Python never needs.

    >>> program = deny_filter("x86_64")
    >>> len(program) % 8, len(program) // 8          # struct sock_filter is 8 bytes
    (0, 50)
    >>> DENIED["mount"]
    (165, 40)

``bwrap --seccomp FD`` loads it (classic BPF, the same format libseccomp emits). The program:
check the architecture (anything else -- e.g. 32-bit ``int 0x80`` calls on x86_64, or the x32 ABI
-- kills the process), then answer ``EPERM`` for each syscall in ``DENIED`` and allow the rest.

What it adds on top of the namespaces: the calls below are the classic kernel attack surface of an
unprivileged user namespace (mount family, ``bpf``, ``userfaultfd``, ``io_uring``, keyrings,
``perf_event_open``, ``ptrace``...) -- the namespaces already make most of them fail for lack of
privilege, the filter makes them fail before the kernel parses their arguments.

Limits: a deny-list, not an allow-list (a new syscall added by a future kernel is allowed); no
argument filtering (``ioctl``, ``socket`` families and ``clone`` flags are not inspected); x86_64
and aarch64 only (elsewhere ``deny_filter`` raises and the sandbox runs without it). Syscall numbers
are from ``asm/unistd_64.h`` (x86_64) and ``asm-generic/unistd.h`` (aarch64).
"""

from __future__ import annotations

import errno
import platform
import struct

__all__ = ["DENIED", "deny_filter", "supported"]

# name: (x86_64 number, aarch64 number); None where the architecture has no such call
DENIED: dict[str, tuple[int | None, int | None]] = {
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41), "chroot": (161, 51),
    "fsopen": (430, 430), "fsconfig": (431, 431), "fsmount": (432, 432), "fspick": (433, 433),
    "move_mount": (429, 429), "open_tree": (428, 428), "mount_setattr": (442, 442),
    "unshare": (272, 97), "setns": (308, 268),
    "bpf": (321, 280), "userfaultfd": (323, 282), "perf_event_open": (298, 241),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "name_to_handle_at": (303, 264), "open_by_handle_at": (304, 265),
    "init_module": (175, 105), "finit_module": (313, 273), "delete_module": (176, 106),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294),
    "swapon": (167, 224), "swapoff": (168, 225), "reboot": (169, 142), "syslog": (103, 116),
    "acct": (163, 89), "quotactl": (179, 60), "lookup_dcookie": (212, 18), "vhangup": (153, 58),
    "iopl": (172, None), "ioperm": (173, None),
}  # fmt: skip

_ARCH = {"x86_64": (0xC000003E, 0), "aarch64": (0xC00000B7, 1)}  # AUDIT_ARCH_*, column above
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_KILL_PROCESS, _ALLOW, _ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
_X32_BIT = 0x40000000


def supported(machine: str | None = None) -> bool:
    return (machine or platform.machine()) in _ARCH


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)  # struct sock_filter, little-endian targets


def deny_filter(machine: str | None = None) -> bytes:
    """The BPF program (bytes of ``struct sock_filter[]``) for ``machine`` (default: this one)."""
    machine = machine or platform.machine()
    if machine not in _ARCH:
        raise ValueError(f"no seccomp filter for {machine!r} (supported: {', '.join(_ARCH)})")
    audit_arch, column = _ARCH[machine]
    numbers = sorted({nrs[column] for nrs in DENIED.values() if nrs[column] is not None})
    prog = [
        _op(_LD_W_ABS, 4),  # seccomp_data.arch
        _op(_JEQ_K, audit_arch, jt=1),
        _op(_RET_K, _KILL_PROCESS),
        _op(_LD_W_ABS, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":  # the x32 ABI sets bit 30 of the number: refuse all of it
        prog += [_op(_JGE_K, _X32_BIT, jf=1), _op(_RET_K, _KILL_PROCESS)]
    n = len(numbers)
    for i, nr in enumerate(numbers):  # jump over the remaining checks and ALLOW to the EPERM return
        prog.append(_op(_JEQ_K, nr, jt=n - i))
    prog += [_op(_RET_K, _ALLOW), _op(_RET_K, _ERRNO | errno.EPERM)]
    return b"".join(prog)
