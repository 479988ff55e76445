package dev.tern.engine;

import dev.tern.sampling.SamplerConfig;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RequestTest {
    @Test
    void withAdapterKeepsEverythingElse() {
        Request r = new Request(new int[]{1, 2, 3}, SamplerConfig.defaults(), 7, List.of("x"), 2, OutputFormat.TEXT, new int[]{9}, 1, 3,
                null, true);
        Request same = r.withAdapter(null);
        assertArrayEquals(r.prompt(), same.prompt());
        assertEquals(r.sampling(), same.sampling());
        assertEquals(7, same.maxTokens());
        assertEquals(List.of("x"), same.stop());
        assertEquals(2, same.logprobs());
        assertArrayEquals(new int[]{9}, same.stopTokens());
        assertEquals(1, same.minTokens());
        assertEquals(3, same.promptLogprobs());
        assertTrue(same.sampledProbs());
        assertNull(same.adapter());
    }
}
