package dev.tern.model;

import dev.tern.TernException;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * Keeps mapped weights in RAM (llama.cpp's {@code --mlock}): the C library's {@code mlock} over
 * each mapping, reached through the FFM API. Mapped file pages are otherwise the kernel's to drop
 * and read again; a VM that reclaims cold memory does so while a large model decodes, and each
 * token then waits on the disk.
 */
final class MemoryLock {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle MLOCK = LINKER.downcallHandle(
            LINKER.defaultLookup().find("mlock").orElseThrow(() -> new IllegalStateException("no mlock in the C library")),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG),
            Linker.Option.captureCallState("errno"));
    /** ENOMEM and EPERM on Linux: over RLIMIT_MEMLOCK, or not allowed to lock. */
    private static final int ENOMEM = 12;
    private static final int EPERM = 1;

    private MemoryLock() {
    }

    /** Locks the pages of a native segment in memory (a heap segment is the JVM's own: nothing to do). */
    static void lock(MemorySegment segment) {
        if (!segment.isNative() || segment.byteSize() == 0) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(STATE);
            int result = (int) MLOCK.invokeExact(state, segment, segment.byteSize());
            if (result != 0) {
                int errno = (int) ERRNO.get(state, 0L);
                throw new TernException("cannot lock the model in memory (mlock: " + switch (errno) {
                    case ENOMEM -> "over the locked-memory limit; raise it with ulimit -l";
                    case EPERM -> "not permitted";
                    default -> "errno " + errno;
                } + "); run without --mlock");
            }
        } catch (TernException e) {
            throw e;
        } catch (Throwable e) {
            throw new TernException("cannot lock the model in memory: " + e.getMessage());
        }
    }
}
