package dev.tern.spec;

/**
 * Prompt-lookup speculation: find the most recent earlier occurrence of the history's last
 * n tokens (n from {@code maxN} down to {@code minN}) and propose what followed it. The copy may
 * run into the tokens it is producing (as an LZ77 match does), so a loop the model is stuck in
 * is proposed in full rather than cut at the end of the history.
 */
public final class NgramProposer implements Proposer {
    private final int maxN;
    private final int minN;

    public NgramProposer(int maxN, int minN) {
        if (minN < 1 || maxN < minN) {
            throw new IllegalArgumentException("need 1 <= minN <= maxN, got " + minN + ", " + maxN);
        }
        this.maxN = maxN;
        this.minN = minN;
    }

    /**
     * Tries 3-grams, then 2-grams. Single-token matches would add about 10% more tokens per pass
     * on stories15M's greedy output but double the proposed tokens, most of them rejected.
     */
    public NgramProposer() {
        this(3, 2);
    }

    @Override
    public Proposal propose(int[] history, int length, int max) {
        if (max <= 0) {
            return Proposal.NONE;
        }
        for (int n = Math.min(maxN, length - 1); n >= minN; n--) {
            int start = lastEarlierOccurrence(history, length, n);
            if (start >= 0) {
                return new Proposal(copyFrom(history, length, start + n, max), null);
            }
        }
        return Proposal.NONE;
    }

    /** Start of the latest occurrence of history[length-n, length) that ends before length, or -1. */
    private static int lastEarlierOccurrence(int[] h, int length, int n) {
        int suffix = length - n;
        for (int s = suffix - 1; s >= 0; s--) {
            int j = 0;
            while (j < n && h[s + j] == h[suffix + j]) {
                j++;
            }
            if (j == n) {
                return s;
            }
        }
        return -1;
    }

    /** max tokens of the sequence history[0, length) ++ result, read from position {@code from}. */
    private static int[] copyFrom(int[] h, int length, int from, int max) {
        int[] out = new int[max];
        for (int i = 0; i < max; i++) {
            int src = from + i;
            out[i] = src < length ? h[src] : out[src - length];
        }
        return out;
    }
}
