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

/**
 * A session's KV cache in a file, with the tokens it holds (llama.cpp's prompt cache,
 * {@code --prompt-cache}): a later run whose prompt starts with those tokens restores their
 * keys and values instead of computing them. The file names the model it was made with (a
 * fingerprint of the model file, {@link #fingerprint}) and is refused for another. Keys and
 * values are stored as floats, as the cache holds them after rounding to its type, so a cache of
 * the same type is restored exactly.
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
        BlockPool pool = table.pool();
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
                int block = table.block(start);
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
            throw new TernException(file + ": cannot write the prompt cache (" + reason(e) + ")");
        }
        try {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new TernException(file + ": cannot write the prompt cache (" + reason(e) + ")");
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
        BlockPool pool = table.pool();
        int kvDim = pool.kvDim();
        try (DataInputStream in = new DataInputStream(new BufferedInputStream(Files.newInputStream(file), 1 << 16))) {
            byte[] magic = in.readNBytes(MAGIC.length);
            if (!Arrays.equals(magic, MAGIC)) {
                throw new TernException(file + ": not a Tern prompt cache");
            }
            if (!Arrays.equals(in.readNBytes(fingerprint.length), fingerprint)) {
                throw new TernException(file + ": the prompt cache was made with another model");
            }
            int layers = in.readInt(), dim = in.readInt(), n = in.readInt();
            if (layers != pool.layers() || dim != kvDim || n <= 0) {
                throw new TernException(file + ": the prompt cache does not fit this model (" + layers + " layers of "
                        + dim + " KV components)");
            }
            int[] tokens = new int[n];
            for (int i = 0; i < n; i++) {
                tokens[i] = in.readInt();
            }
            int keep = Math.min(Session.reusable(tokens, prompt), table.maxLength());
            if (keep <= 0) {
                return 0;
            }
            table.grow(keep);
            session.hold(0, Arrays.copyOf(tokens, keep));
            float[] k = new float[kvDim];
            float[] v = new float[kvDim];
            ByteBuffer bytes = ByteBuffer.allocate(kvDim * Float.BYTES);
            for (int start = 0; start < keep; start += BlockPool.BLOCK_SIZE) {
                int stored = Math.min(BlockPool.BLOCK_SIZE, n - start);
                int wanted = Math.min(BlockPool.BLOCK_SIZE, keep - start);
                for (int layer = 0; layer < layers; layer++) {
                    for (int s = 0; s < stored; s++) {
                        readFloats(in, bytes, k);
                        readFloats(in, bytes, v);
                        if (s < wanted) {
                            pool.write(table.block(start + s), layer, s, k, 0, v, 0);
                        }
                    }
                }
            }
            return keep;
        } catch (NoSuchFileException e) {
            return 0;
        } catch (EOFException e) {
            table.truncate(0);
            throw new TernException(file + ": the prompt cache is truncated");
        } catch (IOException e) {
            table.truncate(0);
            throw new TernException(file + ": cannot read the prompt cache (" + reason(e) + ")");
        }
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
