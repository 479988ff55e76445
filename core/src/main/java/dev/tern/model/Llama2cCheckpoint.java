package dev.tern.model;

import dev.tern.TernException;
import dev.tern.tensor.F32Format;
import dev.tern.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * karpathy's llama2.c checkpoint ({@code .bin}, the legacy format run.c reads): a header of 7
 * int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative when the
 * classifier is not shared — and seq_len), then float32 weights in run.c's order. The file
 * is mapped and every weight is an F32 {@link Tensor} on a slice of the mapping.
 */
final class Llama2cCheckpoint {
    private static final int HEADER_BYTES = 7 * 4;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** run.c hard-codes these. */
    private static final float RMS_EPS = 1e-5f;
    private static final float ROPE_THETA = 10000f;

    private Llama2cCheckpoint() {
    }

    static Model load(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            return read(path, file, arena);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new TernException(path + ": no such file");
        } catch (IOException e) {
            arena.close();
            throw new TernException(path + ": cannot read: " + e.getMessage());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static Model read(Path path, MemorySegment file, Arena arena) {
        if (file.byteSize() < HEADER_BYTES) {
            throw new TernException(path + ": not a GGUF file or llama2.c checkpoint (only " + file.byteSize() + " bytes)");
        }
        int[] h = new int[7];
        for (int i = 0; i < 7; i++) {
            h[i] = file.get(I32, 4L * i);
        }
        int dim = h[0], ffn = h[1], layers = h[2], heads = h[3], kvHeads = h[4], vocab = Math.abs(h[5]), seqLen = h[6];
        boolean shared = h[5] > 0;
        if (dim <= 0 || ffn <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab <= 0 || seqLen <= 0
                || dim % heads != 0 || dim > (1 << 16) || ffn > (1 << 18) || layers > 1024 || vocab > (1 << 20) || seqLen > (1 << 24)) {
            throw new TernException(path + ": not a GGUF file or llama2.c checkpoint (implausible header "
                    + java.util.Arrays.toString(h) + ")");
        }
        ModelConfig c = ModelConfig.llama(dim, ffn, layers, heads, kvHeads, vocab, seqLen, RMS_EPS, ROPE_THETA, shared);
        Cursor in = new Cursor(path, file);
        Tensor embedding = in.matrix("token_embedding", vocab, dim);
        float[][] rmsAtt = in.vectors("rms_att", layers, dim);
        Tensor[] wq = in.matrices("wq", layers, c.qDim(), dim);
        Tensor[] wk = in.matrices("wk", layers, c.kvDim(), dim);
        Tensor[] wv = in.matrices("wv", layers, c.kvDim(), dim);
        Tensor[] wo = in.matrices("wo", layers, dim, c.qDim());
        float[][] rmsFfn = in.vectors("rms_ffn", layers, dim);
        Tensor[] w1 = in.matrices("w1", layers, ffn, dim);
        Tensor[] w2 = in.matrices("w2", layers, dim, ffn);
        Tensor[] w3 = in.matrices("w3", layers, ffn, dim);
        float[] rmsFinal = in.vectors("rms_final", 1, dim)[0];
        // freq_cis_real and freq_cis_imag: RoPE tables we compute ourselves.
        in.skip("freq_cis", 2L * seqLen * (c.headDim() / 2) * 4);
        Tensor output = shared ? embedding : in.matrix("wcls", vocab, dim);
        LayerWeights[] lw = new LayerWeights[layers];
        for (int l = 0; l < layers; l++) {
            lw[l] = new LayerWeights(rmsAtt[l], wq[l], wk[l], wv[l], wo[l], null, null, null, null, null, rmsFfn[l], w1[l], w3[l], w2[l]);
        }
        return new Model(c, new ModelWeights(embedding, lw, rmsFinal, output, null), arena::close);
    }

    /** Walks the weights in order, checking that each one fits in the file. */
    private static final class Cursor {
        private final Path path;
        private final MemorySegment file;
        private long pos = HEADER_BYTES;

        Cursor(Path path, MemorySegment file) {
            this.path = path;
            this.file = file;
        }

        MemorySegment take(String what, long bytes) {
            if (bytes > file.byteSize() - pos) {
                throw new TernException(path + ": truncated llama2.c checkpoint: " + what + " needs " + bytes
                        + " bytes at offset " + pos + " but the file has " + file.byteSize());
            }
            MemorySegment s = file.asSlice(pos, bytes);
            pos += bytes;
            return s;
        }

        void skip(String what, long bytes) {
            take(what, bytes);
        }

        Tensor matrix(String name, int rows, int cols) {
            return new Tensor(name, F32Format.INSTANCE, take(name, 4L * rows * cols), rows, cols);
        }

        Tensor[] matrices(String name, int layers, int rows, int cols) {
            Tensor[] t = new Tensor[layers];
            for (int l = 0; l < layers; l++) {
                t[l] = matrix(name + "[" + l + "]", rows, cols);
            }
            return t;
        }

        float[][] vectors(String name, int layers, int length) {
            float[][] v = new float[layers][];
            for (int l = 0; l < layers; l++) {
                v[l] = take(name, 4L * length).toArray(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN));
            }
            return v;
        }
    }
}
