package dev.tern.spec;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

/** Prompt lookup on hand-made histories whose expected proposals are worked out by hand. */
class NgramProposerTest {
    private static int[] propose(NgramProposer p, int max, int... history) {
        Proposal r = p.propose(history, history.length, max);
        assertNull(r.distributions(), "lookup proposals are deterministic");
        return r.tokens();
    }

    @Test
    void copiesWhatFollowedTheMostRecentEarlierTrigram() {
        // "5 6 7" occurs at 0 (followed by 1 2) and at 5 (followed by 8 9); the latest wins.
        int[] h = {5, 6, 7, 1, 2, 5, 6, 7, 8, 9, 4, 5, 6, 7};
        assertArrayEquals(new int[]{8, 9, 4}, propose(new NgramProposer(), 3, h));
    }

    @Test
    void longerMatchesComeFirst() {
        // The last bigram "2 3" last occurred at 6 (followed by 9), but the trigram "1 2 3" at 0 (followed by 4).
        int[] h = {1, 2, 3, 4, 0, 7, 2, 3, 9, 0, 1, 2, 3};
        assertArrayEquals(new int[]{4, 0}, propose(new NgramProposer(), 2, h));
        // Limited to bigrams, the most recent bigram wins.
        assertArrayEquals(new int[]{9, 0}, propose(new NgramProposer(2, 2), 2, h));
    }

    @Test
    void fallsBackToShorterNgrams() {
        int[] h = {3, 8, 1, 4, 6, 8};
        assertArrayEquals(new int[]{1, 4}, propose(new NgramProposer(3, 1), 2, h));
        assertArrayEquals(new int[0], propose(new NgramProposer(), 2, h));
    }

    @Test
    void copyContinuesThroughItsOwnOutputInALoop() {
        // Period-3 loop: the match of "1 2 3" at 0 runs past the end of the history.
        int[] h = {1, 2, 3, 1, 2, 3};
        assertArrayEquals(new int[]{1, 2, 3, 1, 2, 3, 1}, propose(new NgramProposer(), 7, h));
        // A repeated token proposes itself.
        assertArrayEquals(new int[]{7, 7, 7, 7}, propose(new NgramProposer(3, 1), 4, 0, 7, 7));
    }

    @Test
    void nothingWithoutAMatchOrBudget() {
        assertSame(Proposal.NONE, new NgramProposer().propose(new int[]{1, 2, 3, 4}, 4, 5));
        assertSame(Proposal.NONE, new NgramProposer().propose(new int[]{1, 1}, 2, 0));
        assertSame(Proposal.NONE, new NgramProposer().propose(new int[]{1}, 1, 4));
    }

    @Test
    void onlyTheGivenLengthOfTheHistoryCounts() {
        // Tokens past length are stale and must not be matched or copied.
        int[] h = {1, 2, 9, 9, 1, 2, 5, 5};
        assertArrayEquals(new int[]{9, 9}, propose(new NgramProposer(), 2, java.util.Arrays.copyOf(h, 6)));
        assertArrayEquals(new int[]{9, 9}, new NgramProposer().propose(h, 6, 2).tokens());
    }
}
