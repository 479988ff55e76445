package dev.tern.tensor;

import dev.tern.TernException;

/** A tensor type Tern has no kernels for (for example the IQ types). */
public final class UnsupportedTensorTypeException extends TernException {
    public UnsupportedTensorTypeException(GGMLType type) {
        super("tensor type " + type + " is not supported (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)");
    }
}
