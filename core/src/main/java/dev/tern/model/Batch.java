package dev.tern.model;

import dev.tern.kv.BlockTable;

import java.util.Arrays;

/**
 * The tokens of one forward pass, possibly from many sequences: each token names its
 * sequence (the {@link BlockTable} holding its KV cache), its position in that sequence and
 * whether the caller wants its logits. A sequence's tokens must come in order and continue it:
 * the first at the table's current length, the next one position later, and so on; each token
 * attends to its sequence's cache up to and including itself (causal within the batch). A token
 * may name a LoRA adapter of the model that applies to it alone (null: the model as loaded).
 */
public final class Batch {
    private int[] tokens = new int[16];
    private int[] positions = new int[16];
    private BlockTable[] sequences = new BlockTable[16];
    private boolean[] wantLogits = new boolean[16];
    private LoraAdapter[] adapters = new LoraAdapter[16];
    private boolean anyAdapter;
    private int size;
    private int logitCount;

    public Batch add(int token, BlockTable sequence, int position, boolean logits) {
        return add(token, sequence, position, logits, null);
    }

    /** A token with a LoRA adapter of its own (null: none). */
    public Batch add(int token, BlockTable sequence, int position, boolean logits, LoraAdapter adapter) {
        if (size == tokens.length) {
            int n = 2 * size;
            tokens = Arrays.copyOf(tokens, n);
            positions = Arrays.copyOf(positions, n);
            sequences = Arrays.copyOf(sequences, n);
            wantLogits = Arrays.copyOf(wantLogits, n);
            adapters = Arrays.copyOf(adapters, n);
        }
        tokens[size] = token;
        positions[size] = position;
        sequences[size] = sequence;
        wantLogits[size] = logits;
        adapters[size] = adapter;
        anyAdapter |= adapter != null;
        size++;
        if (logits) {
            logitCount++;
        }
        return this;
    }

    /** Appends {@code ids} to {@code sequence} from its current length; logits for the last only if asked. */
    public Batch addSequence(BlockTable sequence, int[] ids, boolean lastLogits) {
        int start = sequence.length();
        for (int i = 0; i < ids.length; i++) {
            add(ids[i], sequence, start + i, lastLogits && i == ids.length - 1);
        }
        return this;
    }

    public void clear() {
        Arrays.fill(sequences, 0, size, null);
        Arrays.fill(adapters, 0, size, null);
        anyAdapter = false;
        size = 0;
        logitCount = 0;
    }

    public int size() {
        return size;
    }

    /** How many tokens asked for logits: the rows of the forward pass's result. */
    public int logitCount() {
        return logitCount;
    }

    public int token(int i) {
        return tokens[i];
    }

    public int position(int i) {
        return positions[i];
    }

    public BlockTable sequence(int i) {
        return sequences[i];
    }

    public boolean wantsLogits(int i) {
        return wantLogits[i];
    }

    /** Token i's own adapter, or null. */
    public LoraAdapter adapter(int i) {
        return adapters[i];
    }

    /** Whether any token has an adapter of its own. */
    public boolean hasAdapters() {
        return anyAdapter;
    }
}
