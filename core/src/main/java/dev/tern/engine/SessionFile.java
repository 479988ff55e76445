package dev.tern.engine;

import dev.tern.TernException;
import dev.tern.kv.BlockPool;
import dev.tern.kv.BlockTable;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.function.IntUnaryOperator;

/**
 * A KV cache in a file, with the tokens it holds: a session's (llama.cpp's prompt cache,
 * {@code --prompt-cache}) or a server slot's (llama-server's slot save and restore). A later run
 * whose prompt starts with those tokens restores their keys and values instead of computing them.
 * The file names the model it was made with (a fingerprint of the model file, {@link #fingerprint})
 * and is refused for another. Keys and values are stored as floats, as the cache holds them after
 * rounding to its type, so a cache of the same type is restored exactly.
 */
public final class SessionFile {
    private static final byte[] MAGIC = "TERNKV01".getBytes(StandardCharsets.US_ASCII);
    /** The model file's bytes the fingerprint reads: its metadata and the first tensors. */
    private static final int FINGERPRINT_BYTES = 16 << 20;

    private SessionFile() {
    }

    /**
     * SHA-256 of the model file's size and its first 16 MiB: what its KV cache depends on, read in
     * milliseconds (another model, or the same model quantized otherwise, differs there).
     */
    public static byte[] fingerprint(Path model) {
        try (InputStream in = Files.newInputStream(model)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(Long.toString(Files.size(model)).getBytes(StandardCharsets.US_ASCII));
            sha.update(in.readNBytes(FINGERPRINT_BYTES));
            return sha.digest();
        } catch (IOException e) {
            throw new TernException(model + ": cannot read the model (" + e.getMessage() + ")");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Writes the session's first {@code tokens.length} positions, which hold those tokens, to
     * {@code file} (replaced whole: a reader never sees half a file).
     */
    public static void save(Path file, Session session, int[] tokens, byte[] fingerprint) {
        BlockTable table = session.sequence();
        if (tokens.length == 0 || tokens.length > table.length()) {
            throw new IllegalArgumentException("the session holds " + table.length() + " positions, not " + tokens.length);
        }
        write(file, table.pool(), tokens, chunk -> table.block(chunk * BlockPool.BLOCK_SIZE), fingerprint);
    }

    /**
     * Writes {@code tokens} and the keys and values of their positions to {@code file} (replaced
     * whole), position p being slot p % 16 of pool block {@code blockOf(p / 16)}. Returns the bytes written.
     */
    public static long write(Path file, BlockPool pool, int[] tokens, IntUnaryOperator blockOf, byte[] fingerprint) {
        int kvDim = pool.kvDim();
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 16))) {
            out.write(MAGIC);
            out.write(fingerprint);
            out.writeInt(pool.layers());
            out.writeInt(kvDim);
            out.writeInt(tokens.length);
            for (int t : tokens) {
                out.writeInt(t);
            }
            float[] keys = new float[kvDim * BlockPool.BLOCK_SIZE];
            float[] values = new float[BlockPool.BLOCK_SIZE * kvDim];
            float[] row = new float[kvDim];
            ByteBuffer bytes = ByteBuffer.allocate(kvDim * Float.BYTES);
            for (int start = 0; start < tokens.length; start += BlockPool.BLOCK_SIZE) {
                int block = blockOf.applyAsInt(start / BlockPool.BLOCK_SIZE);
                int slots = Math.min(BlockPool.BLOCK_SIZE, tokens.length - start);
                for (int layer = 0; layer < pool.layers(); layer++) {
                    pool.keys(block, layer, 0, kvDim, keys);
                    pool.values(block, layer, 0, kvDim, slots, values);
                    for (int s = 0; s < slots; s++) {
                        for (int r = 0; r < kvDim; r++) {
                            row[r] = keys[r * BlockPool.BLOCK_SIZE + s];
                        }
                        writeFloats(out, bytes, row, 0);
                        writeFloats(out, bytes, values, s * kvDim);
                    }
                }
            }
        } catch (IOException e) {
            throw new TernException(file + ": cannot write the KV cache file (" + reason(e) + ")");
        }
        try {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return Files.size(file);
        } catch (IOException e) {
            throw new TernException(file + ": cannot write the KV cache file (" + reason(e) + ")");
        }
    }

    /**
     * Restores into the empty {@code session} the positions of the longest prefix {@code prompt}
     * shares with the file's tokens, leaving at least the prompt's last token to compute (its
     * logits start the generation). Returns how many positions it restored: 0 when the file does
     * not exist or shares nothing. A file of another model, or a damaged one, is a TernException.
     */
    public static int restore(Path file, Session session, int[] prompt, byte[] fingerprint) {
        BlockTable table = session.sequence();
        if (table.length() != 0) {
            throw new IllegalArgumentException("restore into an empty session");
        }
        if (!Files.exists(file)) {
            return 0;
        }
        try (Stored stored = Stored.open(file, table.pool(), fingerprint)) {
            int[] tokens = stored.tokens();
            int keep = Math.min(Session.reusable(tokens, prompt), table.maxLength());
            if (keep <= 0) {
                return 0;
            }
            table.grow(keep);
            for (int start = 0; start < keep; start += BlockPool.BLOCK_SIZE) {
                stored.readChunk(table.block(start), Math.min(BlockPool.BLOCK_SIZE, keep - start));
            }
            session.hold(0, Arrays.copyOf(tokens, keep));
            return keep;
        } catch (TernException e) {
            table.truncate(0);
            throw e;
        }
    }

    /**
     * A KV cache file being read: its tokens, then their keys and values a chunk of 16 positions
     * at a time, in order, each into a pool block or skipped.
     */
    public static final class Stored implements AutoCloseable {
        private final Path file;
        private final DataInputStream in;
        private final BlockPool pool;
        private final int[] tokens;
        private final float[] k;
        private final float[] v;
        private final ByteBuffer bytes;
        private int next;

        private Stored(Path file, DataInputStream in, BlockPool pool, int[] tokens) {
            this.file = file;
            this.in = in;
            this.pool = pool;
            this.tokens = tokens;
            this.k = new float[pool.kvDim()];
            this.v = new float[pool.kvDim()];
            this.bytes = ByteBuffer.allocate(pool.kvDim() * Float.BYTES);
        }

        /** Opens {@code file}, refused (TernException) unless it was written for this model and this pool's shape. */
        public static Stored open(Path file, BlockPool pool, byte[] fingerprint) {
            DataInputStream in = null;
            try {
                in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16));
                byte[] magic = in.readNBytes(MAGIC.length);
                if (!Arrays.equals(magic, MAGIC)) {
                    throw new TernException(file + ": not a Tern KV cache file");
                }
                if (!Arrays.equals(in.readNBytes(fingerprint.length), fingerprint)) {
                    throw new TernException(file + ": the KV cache file was made with another model");
                }
                int layers = in.readInt(), dim = in.readInt(), n = in.readInt();
                if (layers != pool.layers() || dim != pool.kvDim() || n <= 0) {
                    throw new TernException(file + ": the KV cache file does not fit this model (" + layers + " layers of "
                            + dim + " KV components)");
                }
                int[] tokens = new int[n];
                for (int i = 0; i < n; i++) {
                    tokens[i] = in.readInt();
                }
                return new Stored(file, in, pool, tokens);
            } catch (IOException | RuntimeException e) {
                closeQuietly(in);
                throw e instanceof TernException t ? t : e instanceof IOException io ? failure(file, io) : (RuntimeException) e;
            }
        }

        public int[] tokens() {
            return tokens.clone();
        }

        /**
         * Reads the next chunk of 16 positions (fewer at the end of the file): its first {@code wanted}
         * positions into slots 0.. of {@code block}, or none when {@code block} is negative.
         */
        public void readChunk(int block, int wanted) {
            int stored = Math.min(BlockPool.BLOCK_SIZE, tokens.length - next);
            if (stored <= 0) {
                throw new IllegalStateException("no chunk left in " + file);
            }
            try {
                for (int layer = 0; layer < pool.layers(); layer++) {
                    for (int s = 0; s < stored; s++) {
                        readFloats(in, bytes, k);
                        readFloats(in, bytes, v);
                        if (block >= 0 && s < wanted) {
                            pool.write(block, layer, s, k, 0, v, 0);
                        }
                    }
                }
            } catch (IOException e) {
                throw failure(file, e);
            }
            next += stored;
        }

        @Override
        public void close() {
            closeQuietly(in);
        }

        private static void closeQuietly(InputStream in) {
            try {
                if (in != null) {
                    in.close();
                }
            } catch (IOException ignored) {
                // Read-only: nothing is lost.
            }
        }
    }

    private static TernException failure(Path file, IOException e) {
        return e instanceof EOFException ? new TernException(file + ": the KV cache file is truncated")
                : new TernException(file + ": cannot read the KV cache file (" + reason(e) + ")");
    }

    /** What went wrong, in words: the file exceptions' own messages are often just the path. */
    private static String reason(IOException e) {
        return switch (e) {
            case NoSuchFileException x -> "no such file or directory: " + x.getFile();
            case AccessDeniedException x -> "permission denied: " + x.getFile();
            case FileSystemException x -> x.getReason() != null ? x.getReason() : e.toString();
            default -> e.getMessage() != null ? e.getMessage() : e.toString();
        };
    }

    /** One row of floats through a byte buffer of its size: a bulk conversion, not a call per float. */
    private static void writeFloats(DataOutputStream out, ByteBuffer bytes, float[] src, int off) throws IOException {
        bytes.clear();
        bytes.asFloatBuffer().put(src, off, bytes.capacity() / Float.BYTES);
        out.write(bytes.array());
    }

    private static void readFloats(DataInputStream in, ByteBuffer bytes, float[] dst) throws IOException {
        in.readFully(bytes.array());
        bytes.clear();
        bytes.asFloatBuffer().get(dst);
    }
}
