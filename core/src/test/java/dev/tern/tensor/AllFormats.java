package dev.tern.tensor;

import java.util.List;

/** The formats under test, F32 included. */
final class AllFormats {
    private AllFormats() {
    }

    static List<TensorFormat> all() {
        return List.of(F32Format.INSTANCE, F16Format.INSTANCE, BF16Format.INSTANCE, Q8_0Format.INSTANCE,
                Q4_0Format.INSTANCE, Q4_1Format.INSTANCE, Q5_0Format.INSTANCE, Q5_1Format.INSTANCE,
                Q2_KFormat.INSTANCE, Q3_KFormat.INSTANCE, Q4_KFormat.INSTANCE, Q5_KFormat.INSTANCE, Q6_KFormat.INSTANCE,
                IQ4_NLFormat.INSTANCE, IQ4_XSFormat.INSTANCE);
    }

    static List<TensorFormat> lossy() {
        return all().subList(1, all().size());
    }
}
