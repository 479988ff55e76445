package dev.tern.gguf;

import dev.tern.tensor.GGMLType;

import java.util.Arrays;

/**
 * A tensor's entry in a GGUF file. {@code shape} is in ggml order: shape[0] is the length of a
 * row (the contiguous dimension), shape[1] the number of rows. {@code offset} is relative to
 * the start of the tensor data section.
 */
public record GGUFTensorInfo(String name, long[] shape, GGMLType type, long offset) {

    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public long byteSize() {
        return type.byteSize(elementCount());
    }

    /** Length of one row: the first dimension. */
    public long rowLength() {
        return shape[0];
    }

    /** Number of rows: all dimensions but the first, multiplied. */
    public long rows() {
        return elementCount() / shape[0];
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }
}
