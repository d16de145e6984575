/* linux-abi: calls every system call of shoal's Linux personality with good and bad arguments
 * and checks the results and errno values. Built by the root build script with musl-gcc as a
 * static-pie (-static-pie -z max-page-size=2M); the kernel's `linux-abi` suite runs it and
 * expects the line "linux-abi: all N checks passed" and exit code 0. Every failed check prints
 * one line naming the call, what it returned and errno. It uses raw system calls (syscall(2)) so
 * that what is tested is the kernel's answer, not libc's emulation of it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int checks, failures;

/* A raw call: the kernel's return value (a negative errno on failure). */
static long raw(long number, long a, long b, long c, long d, long e, long f) {
    long result;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return result;
}
#define RAW0(n) raw(n, 0, 0, 0, 0, 0, 0)
#define RAW1(n, a) raw(n, (long)(a), 0, 0, 0, 0, 0)
#define RAW2(n, a, b) raw(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define RAW3(n, a, b, c) raw(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define RAW4(n, a, b, c, d) raw(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define RAW5(n, a, b, c, d, e) raw(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)
#define RAW6(n, a, b, c, d, e, f) raw(n, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

static void expect(const char *what, long got, long want) {
    checks++;
    if (got != want) {
        failures++;
        printf("linux-abi: FAIL %s: got %ld, want %ld\n", what, got, want);
    }
}
static void expect_true(const char *what, int condition) {
    checks++;
    if (!condition) {
        failures++;
        printf("linux-abi: FAIL %s\n", what);
    }
}

/* An address no process has mapped (user space, below the global window). */
#define UNMAPPED ((void *)0x100000000000ULL - 0x200000000ULL)
/* An address in the kernel half. */
#define KERNEL ((void *)0xffff800000000000ULL)
/* The global window, where shoal maps every loaded binary. */
#define WINDOW ((void *)0x400000000000ULL)

int main(int argc, char **argv) {
    char buffer[512];
    /* --- start-up: argv, auxv, TLS through arch_prctl (musl set it up before main) --- */
    expect("argc", argc, 2);
    expect_true("argv[0] is the program", argc > 0 && strcmp(argv[0], "linux-abi") == 0);
    unsigned long fs = 0;
    expect("arch_prctl(ARCH_GET_FS)", RAW2(SYS_arch_prctl, 0x1003, &fs), 0);
    expect_true("the FS base musl set is the thread pointer", fs != 0 && *(unsigned long *)fs == fs);
    expect("arch_prctl(bad code)", RAW2(SYS_arch_prctl, 0x9999, 0), -EINVAL);
    expect("arch_prctl(ARCH_SET_FS, kernel address)", RAW2(SYS_arch_prctl, 0x1002, KERNEL), -EPERM);
    expect("arch_prctl(ARCH_GET_FS, bad pointer)", RAW2(SYS_arch_prctl, 0x1003, UNMAPPED), -EFAULT);

    /* --- write, writev, read --- */
    static const char line[] = "linux-abi: hello from a musl static-pie\n";
    expect("write(1)", RAW3(SYS_write, 1, line, sizeof line - 1), sizeof line - 1);
    expect("write(bad pointer)", RAW3(SYS_write, 2, UNMAPPED, 4), -EFAULT);
    expect("write(kernel pointer)", RAW3(SYS_write, 2, KERNEL, 4), -EFAULT);
    expect("write(bad fd)", RAW3(SYS_write, 42, line, 4), -EBADF);
    expect("write(0 bytes)", RAW3(SYS_write, 2, line, 0), 0);
    struct iovec pieces[2] = {{(void *)"linux-abi: writev ", 18}, {(void *)"in two pieces\n", 14}};
    expect("writev", RAW3(SYS_writev, 2, pieces, 2), 32);
    struct iovec bad_piece[1] = {{UNMAPPED, 8}};
    expect("writev(bad buffer)", RAW3(SYS_writev, 2, bad_piece, 1), -EFAULT);
    expect("writev(too many)", RAW3(SYS_writev, 2, pieces, 5000), -EINVAL);
    expect("read(0) of a process that is no instance is end of file", RAW3(SYS_read, 0, buffer, 16), 0);
    expect("read(2) is not open for reading", RAW3(SYS_read, 2, buffer, 16), -EBADF);

    /* --- files of the ramdisk --- */
    long fd = RAW3(SYS_openat, AT_FDCWD, "/scenarios/default", O_RDONLY | O_CLOEXEC);
    expect_true("openat(/scenarios/default)", fd >= 3);
    long got = RAW3(SYS_read, fd, buffer, sizeof buffer - 1);
    expect_true("read of a file", got > 0);
    struct stat st;
    expect("fstat", RAW2(SYS_fstat, fd, &st), 0);
    expect_true("fstat says a regular file of the right size", S_ISREG(st.st_mode) && st.st_size >= got);
    expect("lseek(SEEK_SET 3)", RAW3(SYS_lseek, fd, 3, SEEK_SET), 3);
    char again[4] = {0};
    expect("read after lseek", RAW3(SYS_read, fd, again, 3), 3);
    expect_true("read after lseek reads from the offset", memcmp(again, buffer + 3, 3) == 0);
    expect("lseek(SEEK_END)", RAW3(SYS_lseek, fd, 0, SEEK_END), st.st_size);
    expect("lseek(negative)", RAW3(SYS_lseek, fd, -1, SEEK_SET), -EINVAL);
    expect("lseek(bad whence)", RAW3(SYS_lseek, fd, 0, 7), -EINVAL);
    expect("lseek(console)", RAW3(SYS_lseek, 1, 0, SEEK_SET), -ESPIPE);
    expect("pread64", RAW4(SYS_pread64, fd, again, 3, 0), 3);
    expect_true("pread64 reads at its offset", memcmp(again, buffer, 3) == 0);
    expect("read(bad buffer)", RAW3(SYS_read, fd, UNMAPPED, 8), -EFAULT);
    expect("write to a read-only file", RAW3(SYS_write, fd, line, 4), -EBADF);
    long copy = RAW1(SYS_dup, fd);
    expect_true("dup", copy > fd);
    expect("dup shares the offset", RAW3(SYS_lseek, copy, 0, SEEK_CUR), RAW3(SYS_lseek, fd, 0, SEEK_CUR));
    expect("dup2", RAW2(SYS_dup2, fd, 20), 20);
    expect("dup2(same)", RAW2(SYS_dup2, fd, fd), fd);
    expect("dup3(same) is invalid", RAW3(SYS_dup3, fd, fd, 0), -EINVAL);
    expect("dup3(O_CLOEXEC)", RAW3(SYS_dup3, fd, 21, O_CLOEXEC), 21);
    expect("fcntl(F_GETFD) after dup3(O_CLOEXEC)", RAW3(SYS_fcntl, 21, F_GETFD, 0), FD_CLOEXEC);
    expect("fcntl(F_SETFD 0)", RAW3(SYS_fcntl, 21, F_SETFD, 0), 0);
    expect("fcntl(F_GETFD)", RAW3(SYS_fcntl, 21, F_GETFD, 0), 0);
    expect("fcntl(F_GETFL)", RAW3(SYS_fcntl, 1, F_GETFL, 0), O_WRONLY);
    expect("fcntl(F_DUPFD 30)", RAW3(SYS_fcntl, fd, F_DUPFD, 30), 30);
    expect("fcntl(bad command)", RAW3(SYS_fcntl, fd, 9999, 0), -EINVAL);
    expect("fcntl(bad fd)", RAW3(SYS_fcntl, 63, F_GETFD, 0), -EBADF);
    expect("close", RAW1(SYS_close, 20), 0);
    expect("close twice", RAW1(SYS_close, 20), -EBADF);
    expect("close(bad fd)", RAW1(SYS_close, -1), -EBADF);
    RAW1(SYS_close, 21);
    RAW1(SYS_close, 30);
    RAW1(SYS_close, copy);
    expect("openat(missing)", RAW3(SYS_openat, AT_FDCWD, "/scenarios/missing", O_RDONLY), -ENOENT);
    expect("openat(for writing)", RAW3(SYS_openat, AT_FDCWD, "/scenarios/default", O_WRONLY), -EROFS);
    expect("openat(O_CREAT)", RAW4(SYS_openat, AT_FDCWD, "/new-file", O_RDONLY | O_CREAT, 0644), -EROFS);
    expect("openat(bad path pointer)", RAW3(SYS_openat, AT_FDCWD, UNMAPPED, O_RDONLY), -EFAULT);
    expect("openat(file, O_DIRECTORY)", RAW3(SYS_openat, AT_FDCWD, "/scenarios/default", O_RDONLY | O_DIRECTORY), -ENOTDIR);
    long folder = RAW3(SYS_openat, AT_FDCWD, "/scenarios", O_RDONLY | O_DIRECTORY);
    expect_true("openat(folder, O_DIRECTORY)", folder >= 3);
    long relative = RAW3(SYS_openat, folder, "./../scenarios/default", O_RDONLY);
    expect_true("openat relative to a folder", relative >= 3);
    expect("read of a folder", RAW3(SYS_read, folder, buffer, 8), -EISDIR);
    RAW1(SYS_close, relative);
    RAW1(SYS_close, folder);
    expect("open (the old call)", RAW3(SYS_open, "bin/linux-abi", O_RDONLY, 0) >= 3, 1);
    expect("newfstatat", RAW4(SYS_newfstatat, AT_FDCWD, "/bin/linux-abi", &st, 0), 0);
    expect_true("newfstatat: an ELF file of some size", S_ISREG(st.st_mode) && st.st_size > 4096);
    expect("newfstatat(folder)", RAW4(SYS_newfstatat, AT_FDCWD, "/bin", &st, 0), 0);
    expect_true("newfstatat says a folder", S_ISDIR(st.st_mode));
    expect("newfstatat(missing)", RAW4(SYS_newfstatat, AT_FDCWD, "/nothing", &st, 0), -ENOENT);
    expect("newfstatat(bad buffer)", RAW4(SYS_newfstatat, AT_FDCWD, "/bin", UNMAPPED, 0), -EFAULT);
    expect("newfstatat(AT_EMPTY_PATH on fd 1)", RAW4(SYS_newfstatat, 1, "", &st, AT_EMPTY_PATH), 0);
    expect("newfstatat(bad flags)", RAW4(SYS_newfstatat, AT_FDCWD, "/bin", &st, 0x40000000), -EINVAL);
    unsigned char statx_buffer[256];
    expect("statx", RAW5(SYS_statx, AT_FDCWD, "/scenarios/default", 0, 0x7ff, statx_buffer), 0);
    uint64_t statx_size;
    memcpy(&statx_size, statx_buffer + 40, 8);
    expect_true("statx reports the size read earlier", statx_size > 0 && (long)statx_size == RAW3(SYS_lseek, fd, 0, SEEK_END));
    expect("statx(bad buffer)", RAW5(SYS_statx, AT_FDCWD, "/bin", 0, 0x7ff, KERNEL), -EFAULT);
    expect("access(R_OK)", RAW2(SYS_access, "/scenarios/default", R_OK), 0);
    expect("access(W_OK)", RAW2(SYS_access, "/scenarios/default", W_OK), -EROFS);
    expect("access(missing)", RAW2(SYS_access, "/missing", F_OK), -ENOENT);
    expect("getcwd", RAW2(SYS_getcwd, buffer, sizeof buffer), 2);
    expect_true("getcwd is /", strcmp(buffer, "/") == 0);
    expect("getcwd(too small)", RAW2(SYS_getcwd, buffer, 1), -ERANGE);
    expect("ioctl(TIOCGWINSZ) on the console", RAW3(SYS_ioctl, 1, 0x5413, buffer), -ENOTTY);
    expect("ioctl(bad fd)", RAW3(SYS_ioctl, 50, 0x5413, buffer), -EBADF);
    struct pollfd polled[3] = {{1, POLLOUT, 0}, {55, POLLIN, 0}, {-1, POLLIN, 0}};
    expect("poll", RAW3(SYS_poll, polled, 3, 0), 2);
    expect_true("poll: fd 1 writable, fd 55 invalid, -1 ignored", polled[0].revents == POLLOUT && polled[1].revents == POLLNVAL && polled[2].revents == 0);
    expect("ppoll(bad pointer)", RAW5(SYS_ppoll, UNMAPPED, 1, 0, 0, 8), -EFAULT);
    RAW1(SYS_close, fd);

    /* --- memory --- */
    char *anonymous = (char *)RAW6(SYS_mmap, 0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect_true("mmap(anonymous)", (long)anonymous > 0 && ((unsigned long)anonymous & 4095) == 0);
    expect_true("anonymous memory reads as zero", anonymous[0] == 0 && anonymous[3 * 4096 - 1] == 0);
    anonymous[4096] = 42;
    expect_true("anonymous memory keeps a write", anonymous[4096] == 42);
    expect("mmap(length 0)", RAW6(SYS_mmap, 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), -EINVAL);
    expect("mmap(no sharing type)", RAW6(SYS_mmap, 0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0), -EINVAL);
    expect("mmap(write and execute)", RAW6(SYS_mmap, 0, 4096, PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), -EACCES);
    expect("mmap(MAP_FIXED in the window)", RAW6(SYS_mmap, WINDOW, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), -ENOMEM);
    expect("mmap(MAP_FIXED in the kernel half)", RAW6(SYS_mmap, KERNEL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), -ENOMEM);
    expect("mmap(bad fd)", RAW6(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, 57, 0), -EBADF);
    expect("mprotect(read only)", RAW3(SYS_mprotect, anonymous, 4096, PROT_READ), 0);
    expect("mprotect(PROT_NONE)", RAW3(SYS_mprotect, anonymous + 8192, 4096, PROT_NONE), 0);
    expect("write(2) from a PROT_NONE page", RAW3(SYS_write, 2, anonymous + 8192, 1), -EFAULT);
    /* The kernel checks the whole buffer before it reads anything (even at end of file). */
    expect("read into a read-only page", RAW3(SYS_read, 0, anonymous, 1), -EFAULT);
    expect("mprotect back to read-write", RAW3(SYS_mprotect, anonymous + 8192, 4096, PROT_READ | PROT_WRITE), 0);
    anonymous[8192] = 7;
    expect_true("a page made writable again keeps writes", anonymous[8192] == 7 && anonymous[4096] == 42);
    expect("mprotect(the window)", RAW3(SYS_mprotect, WINDOW, 4096, PROT_READ | PROT_WRITE), -EACCES);
    expect("mprotect(the kernel half)", RAW3(SYS_mprotect, KERNEL, 4096, PROT_READ), -EACCES);
    expect("mprotect(unmapped)", RAW3(SYS_mprotect, UNMAPPED, 4096, PROT_READ), -ENOMEM);
    expect("mprotect(unaligned)", RAW3(SYS_mprotect, anonymous + 1, 4096, PROT_READ), -EINVAL);
    expect("madvise(MADV_DONTNEED)", RAW3(SYS_madvise, anonymous + 4096, 4096, MADV_DONTNEED), 0);
    expect_true("MADV_DONTNEED pages read as zero", anonymous[4096] == 0);
    expect("munmap", RAW2(SYS_munmap, anonymous, 3 * 4096), 0);
    expect("munmap(unaligned)", RAW2(SYS_munmap, anonymous + 1, 4096), -EINVAL);
    expect("munmap(length 0)", RAW2(SYS_munmap, anonymous, 0), -EINVAL);
    expect("write(2) from unmapped memory", RAW3(SYS_write, 2, anonymous, 1), -EFAULT);
    long file = RAW3(SYS_openat, AT_FDCWD, "/scenarios/default", O_RDONLY);
    char head[8];
    expect("pread64 of the file's first bytes", RAW4(SYS_pread64, file, head, 8, 0), 8);
    char *mapped = (char *)RAW6(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, file, 0);
    expect_true("mmap of a ramdisk file", (long)mapped > 0 && memcmp(mapped, head, 8) == 0);
    expect("mmap(MAP_SHARED of a file)", RAW6(SYS_mmap, 0, 4096, PROT_READ, MAP_SHARED, file, 0), -EINVAL);
    /* A huge count costs only what there is: the read delivers the file's bytes, the console
     * write takes 4096 bytes (a short write), and neither touches the rest of the range. */
    char *room = (char *)RAW6(SYS_mmap, 0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect("read with a huge count reads the whole file", RAW4(SYS_pread64, file, room, 1L << 40, 0), RAW3(SYS_lseek, file, 0, SEEK_END));
    memset(room, '.', 4096);
    room[4095] = '\n';
    struct iovec huge[1] = {{room, 1L << 40}};
    expect("writev with a huge length is a short write of 4096", RAW3(SYS_writev, 2, huge, 1), 4096);
    RAW2(SYS_munmap, room, 3 * 4096);
    RAW1(SYS_close, file);
    RAW2(SYS_munmap, mapped, 4096);
    /* Mappings cover at most 4 GiB (RLIMIT_AS); unmapping a huge range that is mostly unmapped is
     * cheap and leaves the stack alone; MAP_FIXED over the stack is refused without harm. */
    expect("mmap(5 GiB) beyond RLIMIT_AS", RAW6(SYS_mmap, 0, 5L << 30, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), -ENOMEM);
    long address_space[2];
    expect("prlimit64(RLIMIT_AS)", RAW4(SYS_prlimit64, 0, 9, 0, address_space), 0);
    expect("RLIMIT_AS is 4 GiB", address_space[0], 4L << 30);
    char *big_map = (char *)RAW6(SYS_mmap, 0, 3L << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect_true("mmap(3 GiB), mapped on first touch", (long)big_map > 0);
    big_map[(3L << 30) - 1] = 1;
    expect("mprotect(3 GiB)", RAW3(SYS_mprotect, big_map, 3L << 30, PROT_READ), 0);
    expect("munmap of 16 TiB around it", RAW2(SYS_munmap, (unsigned long)big_map & ~((1UL << 44) - 1), 1UL << 44), 0);
    volatile int on_stack = 1234;
    unsigned long stack_page = (unsigned long)&on_stack & ~4095UL;
    expect("mmap(MAP_FIXED over the stack) is refused", RAW6(SYS_mmap, stack_page, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0), -ENOMEM);
    expect_true("the stack is intact after it", on_stack == 1234);
    long start = RAW1(SYS_brk, 0);
    expect_true("brk(0) answers the break", start > 0);
    expect("brk(grow 64 KiB)", RAW1(SYS_brk, start + 65536), start + 65536);
    ((char *)start)[65535] = 1;
    expect("brk(shrink)", RAW1(SYS_brk, start + 4096), start + 4096);
    expect("brk(below its start) answers the break unchanged", RAW1(SYS_brk, start - 4096), start + 4096);
    expect("brk(huge) answers the break unchanged", RAW1(SYS_brk, start + (2L << 30)), start + 4096);

    /* --- identity, time, randomness --- */
    long pid = RAW0(SYS_getpid);
    expect_true("getpid is positive", pid > 0);
    expect("gettid equals getpid", RAW0(SYS_gettid), pid);
    expect("set_tid_address answers the tid", RAW1(SYS_set_tid_address, &checks), pid);
    expect("getuid", RAW0(SYS_getuid), 0);
    expect("geteuid", RAW0(SYS_geteuid), 0);
    expect("getgid", RAW0(SYS_getgid), 0);
    expect("getegid", RAW0(SYS_getegid), 0);
    struct utsname names;
    expect("uname", RAW1(SYS_uname, &names), 0);
    expect_true("uname: x86_64", strcmp(names.machine, "x86_64") == 0);
    expect("uname(bad pointer)", RAW1(SYS_uname, UNMAPPED), -EFAULT);
    struct timespec first, second;
    expect("clock_gettime(MONOTONIC)", RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &first), 0);
    expect("clock_gettime(MONOTONIC) again", RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, &second), 0);
    expect_true("the monotonic clock does not go back",
                second.tv_sec > first.tv_sec || (second.tv_sec == first.tv_sec && second.tv_nsec >= first.tv_nsec));
    expect("clock_gettime(REALTIME)", RAW2(SYS_clock_gettime, CLOCK_REALTIME, &first), 0);
    expect_true("the real-time clock is after 2026", first.tv_sec >= 1767225600);
    expect("clock_gettime(bad clock)", RAW2(SYS_clock_gettime, 99, &first), -EINVAL);
    expect("clock_gettime(bad pointer)", RAW2(SYS_clock_gettime, CLOCK_MONOTONIC, KERNEL), -EFAULT);
    expect("clock_getres", RAW2(SYS_clock_getres, CLOCK_MONOTONIC, &first), 0);
    long timeval[2];
    expect("gettimeofday", RAW2(SYS_gettimeofday, timeval, 0), 0);
    expect_true("gettimeofday: microseconds below a million", timeval[1] >= 0 && timeval[1] < 1000000);
    struct timespec nap = {0, 1000};
    expect("nanosleep", RAW2(SYS_nanosleep, &nap, 0), 0);
    struct timespec bad_nap = {0, 2000000000};
    expect("nanosleep(bad nanoseconds)", RAW2(SYS_nanosleep, &bad_nap, 0), -EINVAL);
    expect("clock_nanosleep", RAW4(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &nap, 0), 0);
    expect("sched_yield", RAW0(SYS_sched_yield), 0);
    unsigned char random[64] = {0}, zero[64] = {0};
    expect("getrandom", RAW3(SYS_getrandom, random, sizeof random, 0), sizeof random);
    expect_true("getrandom filled the buffer", memcmp(random, zero, sizeof random) != 0);
    expect("getrandom(GRND_NONBLOCK)", RAW3(SYS_getrandom, random, 8, 1), 8);
    expect("getrandom(unknown flag) is EINVAL, not ENOSYS", RAW3(SYS_getrandom, random, 8, 0x40), -EINVAL);
    expect("getrandom(bad pointer)", RAW3(SYS_getrandom, UNMAPPED, 8, 0), -EFAULT);
    long limit[2];
    expect("prlimit64(RLIMIT_STACK)", RAW4(SYS_prlimit64, 0, 3, 0, limit), 0);
    expect("RLIMIT_STACK is 8 MiB", limit[0], 8L << 20);
    expect("prlimit64(bad resource)", RAW4(SYS_prlimit64, 0, 99, 0, limit), -EINVAL);
    expect("prlimit64(set) is refused", RAW4(SYS_prlimit64, 0, 3, limit, 0), -EPERM);

    /* --- signals (recorded, never delivered), futex, robust list --- */
    unsigned long action[4] = {1 /* SIG_IGN */, 0, 0, 0}, old[4];
    expect("rt_sigaction(SIGPIPE, SIG_IGN)", RAW4(SYS_rt_sigaction, SIGPIPE, action, 0, 8), 0);
    expect("rt_sigaction reads back", RAW4(SYS_rt_sigaction, SIGPIPE, 0, old, 8), 0);
    expect("rt_sigaction: the disposition set", old[0], 1);
    expect("rt_sigaction(SIGKILL)", RAW4(SYS_rt_sigaction, SIGKILL, action, 0, 8), -EINVAL);
    expect("rt_sigaction(bad set size)", RAW4(SYS_rt_sigaction, SIGPIPE, action, 0, 4), -EINVAL);
    expect("rt_sigaction(signal 0)", RAW4(SYS_rt_sigaction, 0, action, 0, 8), -EINVAL);
    unsigned long mask = 1UL << (SIGUSR1 - 1), old_mask = 99;
    expect("rt_sigprocmask(SIG_BLOCK)", RAW4(SYS_rt_sigprocmask, SIG_BLOCK, &mask, 0, 8), 0);
    expect("rt_sigprocmask reads back", RAW4(SYS_rt_sigprocmask, SIG_BLOCK, 0, &old_mask, 8), 0);
    expect("rt_sigprocmask: the mask set", old_mask, mask);
    expect("rt_sigprocmask(bad how)", RAW4(SYS_rt_sigprocmask, 7, &mask, 0, 8), -EINVAL);
    static char alternate[8192];
    stack_t stack = {alternate, 0, sizeof alternate}, old_stack;
    expect("sigaltstack", RAW2(SYS_sigaltstack, &stack, 0), 0);
    expect("sigaltstack reads back", RAW2(SYS_sigaltstack, 0, &old_stack), 0);
    expect_true("sigaltstack: the stack set", old_stack.ss_sp == alternate && old_stack.ss_size == sizeof alternate);
    stack_t tiny = {alternate, 0, 100};
    expect("sigaltstack(too small)", RAW2(SYS_sigaltstack, &tiny, 0), -ENOMEM);
    int word = 5;
    expect("futex(FUTEX_WAKE)", RAW3(SYS_futex, &word, 1 | 128, 1), 0);
    expect("futex(FUTEX_WAIT, other value)", RAW4(SYS_futex, &word, 0 | 128, 6, 0), -EAGAIN);
    struct timespec soon = {0, 1};
    expect("futex(FUTEX_WAIT with a timeout)", RAW4(SYS_futex, &word, 0 | 128, 5, &soon), -ETIMEDOUT);
    expect("futex(bad pointer)", RAW4(SYS_futex, UNMAPPED, 0, 5, 0), -EFAULT);
    long robust[3] = {0, 0, 0};
    expect("set_robust_list", RAW2(SYS_set_robust_list, robust, 24), 0);
    expect("set_robust_list(bad size)", RAW2(SYS_set_robust_list, robust, 8), -EINVAL);

    /* --- an unimplemented call --- */
    expect("an unimplemented call (fork) is ENOSYS", RAW0(SYS_fork), -ENOSYS);
    expect("an unimplemented call again (reported once)", RAW0(SYS_fork), -ENOSYS);
    expect("a number past the table is ENOSYS", RAW0(100000), -ENOSYS);
    expect("another number past the table (not reported again)", RAW0(100001), -ENOSYS);
    expect("a negative number is ENOSYS", RAW0(-1), -ENOSYS);

    /* --- libc on top: stdio and malloc through brk/mmap --- */
    char *big = malloc(1 << 20);
    expect_true("malloc of 1 MiB", big != NULL);
    if (big) {
        memset(big, 0x5a, 1 << 20);
        expect_true("malloc'd memory holds its bytes", big[0] == 0x5a && big[(1 << 20) - 1] == 0x5a);
        free(big);
    }
    if (failures == 0) {
        printf("linux-abi: all %d checks passed\n", checks);
        return 0;
    }
    printf("linux-abi: %d of %d checks failed\n", failures, checks);
    return 1;
}
