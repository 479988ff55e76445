package dev.tern.cli.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class StatsTest {
    @Test
    void medianOfOddAndEvenCountsLeavesItsInputAlone() {
        double[] odd = {3.0, 1.0, 2.0};
        assertEquals(2.0, Stats.median(odd));
        assertArrayEquals(new double[]{3.0, 1.0, 2.0}, odd);
        assertEquals(2.5, Stats.median(new double[]{4.0, 1.0, 3.0, 2.0}));
        assertEquals(7.0, Stats.median(new double[]{7.0}));
    }

    @Test
    void meanAndSampleStandardDeviation() {
        Stats s = Stats.of(new double[]{2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0});
        assertEquals(5.0, s.mean(), 1e-12);
        assertEquals(Math.sqrt(32.0 / 7.0), s.stddev(), 1e-12);
    }
}
