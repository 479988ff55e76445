package dev.tern.tensor;

import com.sun.management.HotSpotDiagnosticMXBean;

import java.lang.management.ManagementFactory;

/**
 * Float arrays read from a 64-byte boundary. A 512-bit load that straddles two cache lines costs
 * two: the batched tiles, which load eight vectors per sixteen multiply-adds, ran at half speed
 * because a float[]'s data starts 16 bytes into its object and objects are only 8-byte aligned.
 * With {@code -XX:ObjectAlignmentInBytes=64} (the launcher and the build set it) every array's data
 * starts at the same place in a cache line, so skipping {@link #OFFSET} elements aligns it; without
 * the flag OFFSET is 0 and the loads stay where the JVM put them, correct but slower.
 */
public final class Aligned {
    private static final int LINE = 64;
    /** Index of a 64-byte aligned element in every float[] (0 when the JVM cannot promise one). */
    public static final int OFFSET = offset();

    private Aligned() {
    }

    /** A float[] of at least OFFSET + n elements, reused per thread while big enough. */
    public static float[] scratch(ThreadLocal<float[][]> holder, int n) {
        float[][] h = holder.get();
        if (h[0].length < OFFSET + n) {
            h[0] = new float[OFFSET + n];
        }
        return h[0];
    }

    /** A holder for {@link #scratch}. */
    public static ThreadLocal<float[][]> holder() {
        return ThreadLocal.withInitial(() -> new float[1][0]);
    }

    private static int offset() {
        try {
            HotSpotDiagnosticMXBean vm = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            if (Integer.parseInt(vm.getVMOption("ObjectAlignmentInBytes").getValue()) < LINE) {
                return 0;
            }
            // Where HotSpot puts a float[]'s first element: after the mark word, the class word
            // (4 bytes when compressed) and the 4-byte length; compact headers fold the class into the mark.
            int base = flag(vm, "UseCompactObjectHeaders") ? 12 : flag(vm, "UseCompressedClassPointers") ? 16 : 20;
            return (LINE - base) / Float.BYTES;
        } catch (RuntimeException | LinkageError e) {
            return 0;
        }
    }

    private static boolean flag(HotSpotDiagnosticMXBean vm, String name) {
        try {
            return Boolean.parseBoolean(vm.getVMOption(name).getValue());
        } catch (IllegalArgumentException unknown) {
            return false;
        }
    }
}
