package dev.tern.spec;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DraftBudgetTest {

    /** Pass times for widths 0..max: {@code flat} up to {@code knee} tokens, then {@code perToken} more for each. */
    private static double[] costs(int max, double flat, int knee, double perToken) {
        double[] c = new double[max + 1];
        for (int w = 1; w <= max; w++) {
            c[w] = flat + Math.max(0, w - knee) * perToken;
        }
        return c;
    }

    @Test
    void aPassBoundByReadingWeightsGuesses() {
        assertTrue(DraftBudget.pays(new double[]{0.5, 0.3}, new int[]{8, 4}, costs(64, 1.0, 64, 0), 2, 2, 0));
    }

    @Test
    void aPassBoundByItsArithmeticDoesNot() {
        // Each token costs its full share: guesses that are not certain only lower tokens per time.
        assertFalse(DraftBudget.pays(new double[]{0.9, 0.6, 0.6, 0.6}, new int[]{3, 3, 3, 3}, costs(64, 0, 0, 1.0), 4, 4, 0));
    }

    @Test
    void manyRequestsPastTheKneeStopGuessingWhereOneStillGains() {
        // Eight tokens a pass cost the same; each one past them a quarter of that.
        double[] c = costs(64, 4.0, 8, 1.0);
        assertTrue(DraftBudget.pays(new double[]{0.6}, new int[]{3}, c, 1, 1, 0.1));
        assertFalse(DraftBudget.pays(new double[]{0.6, 0.6, 0.6, 0.6, 0.6, 0.6}, new int[]{3, 3, 3, 3, 3, 3}, c, 6, 6, 0.1));
    }

    @Test
    void proposingTimeCountsAgainstTheGuesses() {
        double[] flat = costs(32, 1.0, 32, 0);
        assertTrue(DraftBudget.pays(new double[]{0.5}, new int[]{4}, flat, 1, 1, 0.1));
        // Guesses that take as long as the pass each to make, accepted half the time, never pay.
        assertFalse(DraftBudget.pays(new double[]{0.5}, new int[]{4}, flat, 1, 1, 1.0));
    }

    @Test
    void widthsPastTheCostsAreNotTried() {
        assertFalse(DraftBudget.pays(new double[]{0.9}, new int[]{8}, costs(4, 1.0, 4, 0), 2, 1, 0));
        assertTrue(DraftBudget.pays(new double[]{0.9}, new int[]{2}, costs(4, 1.0, 4, 0), 1, 1, 0));
    }
}
