package dev.tern.tensor;

import dev.tern.TernException;

/** A tensor type Tern has no kernels for (for example the IQ types). */
public final class UnsupportedTensorTypeException extends TernException {
    public UnsupportedTensorTypeException(GGMLType type) {
        super("tensor type " + type + " is not supported (supported: " + GGMLType.supportedNames() + ")");
    }
}
