package dev.tern.tensor;

import dev.tern.TernException;

/** A tensor type Tern has no kernels for (such as Q8_K or the integer types). */
public final class UnsupportedTensorTypeException extends TernException {
    public UnsupportedTensorTypeException(GGMLType type) {
        super("tensor type " + type + " is not supported (supported: " + GGMLType.supportedNames() + ")");
    }
}
