package dev.tern.tensor;

import dev.tern.gguf.GGUFFile;
import dev.tern.gguf.GGUFTensorInfo;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * A weight tensor seen as a matrix of {@code rows} rows of {@code cols} values, in any
 * supported format, backed by memory it does not own (usually a slice of a mapped GGUF file, or
 * an aligned copy of one when F32 weights do not start on a cache line).
 */
public final class Tensor {
    private static final int LINE = 64;
    private final String name;
    private final TensorFormat format;
    private final MemorySegment data;
    private final int rows;
    private final int cols;
    private final long rowBytes;
    /** F32 only: each row as a segment of its own, so that kernels' loads are checked against the row once. */
    private final MemorySegment[] rowSegments;
    /** {@link #kernelFormat}, once known. */
    private volatile TensorFormat kernelFormat;
    /** {@link #panels}, once made. */
    private volatile float[] panels;

    /** The width in bits of the vectors the kernels compute with (the CPU's widest, or {@code tern.vector.bits}). */
    public static int vectorBits() {
        return Vec.F.vectorBitSize();
    }

    public Tensor(String name, TensorFormat format, MemorySegment data, int rows, int cols) {
        this.name = name;
        this.format = format;
        this.data = lineAligned(format, data);
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = format.type().byteSize(cols);
        if (rowBytes * rows > data.byteSize()) {
            throw new IllegalArgumentException(name + ": " + rows + "x" + cols + " " + format.type() + " needs "
                    + rowBytes * rows + " bytes, has " + data.byteSize());
        }
        if (format == F32Format.INSTANCE) {
            rowSegments = new MemorySegment[rows];
            for (int r = 0; r < rows; r++) {
                rowSegments[r] = this.data.asSlice(r * rowBytes, rowBytes);
            }
        } else {
            rowSegments = null;
        }
    }

    /** The named tensor of a GGUF file, rows being all dimensions after the first. */
    public static Tensor of(GGUFFile file, GGUFTensorInfo info) {
        return new Tensor(info.name(), TensorFormat.of(info.type()), file.data(info),
                Math.toIntExact(info.rows()), Math.toIntExact(info.rowLength()));
    }

    /**
     * F32 weights whose mapping does not start on a 64-byte line (GGUF aligns tensors to 32 bytes,
     * llama2.c files not at all) copied to memory that does: their 512-bit loads would otherwise
     * each straddle two cache lines. Other formats load 32 bytes or less at a time and stay mapped.
     */
    private static MemorySegment lineAligned(TensorFormat format, MemorySegment data) {
        if (format != F32Format.INSTANCE || data.address() % LINE == 0) {
            return data;
        }
        MemorySegment copy = Arena.ofAuto().allocate(data.byteSize(), LINE);
        return copy.copyFrom(data);
    }

    public String name() {
        return name;
    }

    public TensorFormat format() {
        return format;
    }

    public GGMLType type() {
        return format.type();
    }

    /**
     * The format whose kernels should multiply this tensor: its own, except for F16 weights that hold
     * no infinity or NaN (trained weights never do), whose matrix × vector kernel then need not watch
     * for them. Found by one pass over the values at the first call, not at load.
     */
    public TensorFormat kernelFormat() {
        TensorFormat k = kernelFormat;
        if (k == null) {
            k = format == F16Format.INSTANCE && F16Format.allFinite(data) ? F16Format.FINITE : format;
            kernelFormat = k;
        }
        return k;
    }

    public MemorySegment data() {
        return data;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public long rowBytes() {
        return rowBytes;
    }

    /** The rows copied into {@link F32Panels}' layout, at the first call (threads that race make the same copy). */
    float[] panels() {
        float[] p = panels;
        if (p == null) {
            p = F32Panels.pack(this);
            panels = p;
        }
        return p;
    }

    /** Row r of an F32 tensor as its own segment. */
    MemorySegment rowSegment(int r) {
        return rowSegments[r];
    }

    /** Row {@code row} · x[xOff .. xOff+cols). */
    public float dot(int row, float[] x, int xOff) {
        return format.dot(data, row * rowBytes, x, xOff, cols);
    }

    public void dequantizeRow(int row, float[] out, int outOff) {
        format.dequantize(data, row * rowBytes, out, outOff, cols);
    }

    /** All values as floats: for small tensors such as norm weights and biases. */
    public float[] toFloats() {
        float[] out = new float[Math.multiplyExact(rows, cols)];
        for (int r = 0; r < rows; r++) {
            dequantizeRow(r, out, r * cols);
        }
        return out;
    }

    @Override
    public String toString() {
        return name + " " + format.type() + " " + rows + "x" + cols;
    }
}
