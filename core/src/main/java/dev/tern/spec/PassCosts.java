package dev.tern.spec;

/**
 * The measured time of a target pass by its width (the tokens it feeds), for deciding how many
 * tokens to propose: a wider verify pass costs more on this machine, by how much it must measure.
 * Each width keeps a low estimate, which drops to a faster pass at once and rises slowly towards
 * slower ones: a fresh process's first passes of a width run before the JIT has compiled their
 * code, many times slower than later ones, and with plain averages those few made wide passes look
 * too dear to try again. A width not seen in the last {@code staleAfter} passes no longer counts.
 * <p>
 * The cost of a width is its own estimate where it has a recent one, else found between the recent
 * widths around it or, past them, along the least-squares line through them: the kernels change
 * tiles at some widths, so the time steps up rather than growing along a line (stories15M's F32
 * passes: 4 tokens 1.16× a step, 8 tokens 2.07×), and a line through the steps made short drafts
 * look cheaper than they are.
 */
public final class PassCosts {
    /** How far a time estimate moves towards a slower observation (to a faster one it moves all the way). */
    private static final double TOWARDS_SLOWER = 0.05;

    private final int minPasses;
    private final int staleAfter;
    /** Per width, its estimated time in ns (0: not seen). */
    private final double[] nanos;
    /** Per width, the number of passes seen when it was last seen. */
    private final int[] lastSeen;
    private int passes;

    /**
     * @param maxWidth   the widest pass recorded (wider ones are ignored)
     * @param minPasses  passes needed before {@link #costs} answers (of at least two widths)
     * @param staleAfter passes after which a width not seen again is forgotten
     */
    public PassCosts(int maxWidth, int minPasses, int staleAfter) {
        if (maxWidth < 1 || minPasses < 1 || staleAfter < 1) {
            throw new IllegalArgumentException("need positive widths and counts, got " + maxWidth + ", " + minPasses + ", " + staleAfter);
        }
        this.minPasses = minPasses;
        this.staleAfter = staleAfter;
        this.nanos = new double[maxWidth + 1];
        this.lastSeen = new int[maxWidth + 1];
    }

    /** Records that a pass feeding {@code width} tokens took {@code passNanos}. */
    public void observe(int width, long passNanos) {
        if (width < 1 || width >= nanos.length || passNanos <= 0) {
            return;
        }
        nanos[width] = follow(recent(width) ? nanos[width] : 0, passNanos);
        lastSeen[width] = ++passes;
    }

    /**
     * The estimated time of a pass by width, index 1 to {@code upTo} (at most the widest recorded):
     * a recently measured width's own time; between two measured widths, the straight line joining
     * them; past the last (or before the first), the fitted line's slope from it. Never cheaper with
     * width. Null until enough passes of two widths have been seen.
     */
    public double[] costs(int upTo) {
        double slope = slope();
        if (slope < 0) {
            return null;
        }
        int top = Math.min(upTo, nanos.length - 1);
        double[] cost = new double[top + 1];
        // The recent widths in order, walked beside n: the nearest at or below it, and at or above it.
        int[] seen = new int[nanos.length];
        int count = 0;
        for (int n = 1; n < nanos.length; n++) {
            if (recent(n)) {
                seen[count++] = n;
            }
        }
        int next = 0;
        for (int n = 1; n <= top; n++) {
            while (next < count && seen[next] < n) {
                next++;
            }
            int above = next < count ? seen[next] : nanos.length;
            int below = above == n ? n : next > 0 ? seen[next - 1] : 0;
            if (below >= 1 && above < nanos.length) {
                cost[n] = below == above ? nanos[n]
                        : nanos[below] + (nanos[above] - nanos[below]) * (n - below) / (above - below);
            } else if (below >= 1) {
                cost[n] = nanos[below] + slope * (n - below);
            } else {
                // A pass always costs something.
                cost[n] = Math.max(nanos[above] - slope * (above - n), 0.05 * nanos[above]);
            }
            cost[n] = Math.max(cost[n], cost[n - 1]);
        }
        return cost;
    }

    private boolean recent(int width) {
        return nanos[width] > 0 && passes - lastSeen[width] < staleAfter;
    }

    /** The slope of the least-squares line through the recent widths' times, or -1 while fewer than two were seen. */
    private double slope() {
        double w = 0, sumN = 0, sumT = 0, sumNN = 0, sumNT = 0;
        for (int n = 1; n < nanos.length; n++) {
            if (recent(n)) {
                w++;
                sumN += n;
                sumT += nanos[n];
                sumNN += (double) n * n;
                sumNT += n * nanos[n];
            }
        }
        if (passes < minPasses || w < 2) {
            return -1;
        }
        double meanN = sumN / w, meanT = sumT / w;
        double var = sumNN / w - meanN * meanN;
        // Noise can tilt the line; a pass never gets cheaper with width.
        return Math.max(0, (sumNT / w - meanN * meanT) / var);
    }

    /** An estimate moved towards an observation: all the way when it is the first or faster. */
    public static double follow(double estimate, double observed) {
        if (estimate == 0 || observed < estimate) {
            return observed;
        }
        return estimate + TOWARDS_SLOWER * (observed - estimate);
    }
}
