package dev.tern.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tern.Tern;
import dev.tern.engine.Request;
import dev.tern.engine.RequestListener;
import dev.tern.engine.RequestOutput;
import dev.tern.engine.RequestResult;
import dev.tern.engine.Scheduler;
import dev.tern.engine.SchedulerConfig;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama-server's {@code GET /slots}: what each running request does. Two requests on a scheduler of
 * two slots are held still by their listeners (the scheduler's thread waits in them), so the slots
 * can be read while both run.
 */
class SlotsTest {
    private static final Tern.Options OPTIONS = new Tern.Options(2, 256, 8, KVCacheType.F32);

    /** Blocks the scheduler's thread at its third output until released. */
    private static final class Holding implements RequestListener {
        final AtomicInteger outputs = new AtomicInteger();
        final CountDownLatch held = new CountDownLatch(1);
        final CountDownLatch release;
        final CompletableFuture<RequestResult> done = new CompletableFuture<>();

        Holding(CountDownLatch release) {
            this.release = release;
        }

        @Override
        public void onOutput(RequestOutput output) {
            if (outputs.incrementAndGet() == 3) {
                held.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        @Override
        public void onFinish(RequestResult result) {
            held.countDown();
            done.complete(result);
        }
    }

    @Test
    void busySlotsShowTheirRequests() throws Exception {
        try (Tern tern = Tern.load(Fixtures.stories260K("stories260K-f32.gguf"), null, OPTIONS);
             Scheduler scheduler = new Scheduler(tern.engine(), tern.tokenizer(), tern.contextSize(), new SchedulerConfig(2, 64, 8, 0, true))) {
            Slots slots = new Slots(scheduler, tern.tokenizer(), false);
            JsonNode idle = slots.list(true);
            assertEquals(2, idle.size());
            for (int i = 0; i < 2; i++) {
                assertEquals(i, idle.get(i).path("id").asInt());
                assertFalse(idle.get(i).path("is_processing").asBoolean());
                assertEquals(tern.contextSize(), idle.get(i).path("n_ctx").asInt());
            }
            CountDownLatch release = new CountDownLatch(1);
            int[] first = tern.tokenizer().encode("Once upon a time", true, true);
            int[] second = tern.tokenizer().encode("The cat sat", true, true);
            SamplerConfig warm = new SamplerConfig(0.5f, 7, 0.9f, 0f, 1f, 64, 0f, 0f, 42);
            Holding a = new Holding(release);
            Holding b = new Holding(release);
            try {
                scheduler.submit(new Request(first, warm, 40, List.of("zzz"), -1), a);
                scheduler.submit(Request.greedy(second, 30), b);
                scheduler.start();
                assertTrue(a.held.await(30, TimeUnit.SECONDS), "the first request reached its third output");
                assertFalse(a.done.isDone());
                ApiException full = assertThrows(ApiException.class, () -> slots.list(true));
                assertEquals(503, full.status);
                JsonNode busy = slots.list(false);
                assertEquals(2, busy.size());
                JsonNode s0 = busy.get(0);
                assertTrue(s0.path("is_processing").asBoolean(), s0.toString());
                assertEquals(first.length, s0.path("n_prompt_tokens").asInt());
                assertTrue(s0.path("prompt").asText().endsWith("Once upon a time"), s0.toString());
                assertEquals(0.5, s0.path("params").path("temperature").asDouble(), 1e-6);
                assertEquals(7, s0.path("params").path("top_k").asInt());
                assertEquals(42, s0.path("params").path("seed").asLong());
                assertEquals("zzz", s0.path("params").path("stop").path(0).asText());
                int decoded = s0.path("next_token").path("n_decoded").asInt();
                assertTrue(decoded >= 2, s0.toString());
                assertEquals(40 - decoded, s0.path("next_token").path("n_remain").asInt());
                assertEquals(first.length + decoded - 1, s0.path("n_past").asInt(), "the last token is not in the cache yet");
                JsonNode s1 = busy.get(1);
                assertTrue(s1.path("is_processing").asBoolean(), s1.toString());
                assertEquals(second.length, s1.path("n_prompt_tokens").asInt());
                assertEquals(0.0, s1.path("params").path("temperature").asDouble());
                assertTrue(s1.path("id_task").asLong() > s0.path("id_task").asLong(), "oldest first");
            } finally {
                release.countDown();
            }
            a.done.get(30, TimeUnit.SECONDS);
            b.done.get(30, TimeUnit.SECONDS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!scheduler.running().isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            for (JsonNode s : slots.list(true)) {
                assertFalse(s.path("is_processing").asBoolean(), s.toString());
            }
        }
    }

    @Test
    void noSlotsTurnsTheEndpointOff() throws Exception {
        try (LoopbackServer off = LoopbackServer.start(OPTIONS, ServerConfig.loopback(0, LoopbackServer.MODEL).withSlots(false))) {
            HttpResponse<String> r = off.http().send(HttpRequest.newBuilder(URI.create(off.server().url() + "/slots")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(501, r.statusCode(), r.body());
            HttpResponse<String> props = off.http().send(HttpRequest.newBuilder(URI.create(off.server().url() + "/props")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertFalse(Json.MAPPER.readTree(props.body()).path("endpoint_slots").asBoolean(true), props.body());
        }
    }
}
