package dev.tern.engine;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.kv.BlockPool;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.SamplerConfig;
import dev.tern.testing.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama-server's slot save, erase and restore on the scheduler: a slot's cached blocks go to a file and come back
 * into the prefix cache, where a later request finds them, and its answer is the one computed without them.
 */
class SlotFilesTest {
    private static final Path MODEL = Fixtures.stories15M("stories15M-distilled-f32.gguf");

    private static RequestResult run(Scheduler s, int[] prompt, int n, SchedulerTest.Collector c) throws Exception {
        s.submit(Request.greedy(prompt, n), c);
        return c.done.get(2, TimeUnit.MINUTES);
    }

    private static int[] tokens(SchedulerTest.Collector c) {
        return c.tokens.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void aSavedSlotComesBackIntoThePrefixCache(@TempDir Path dir) throws Exception {
        byte[] fingerprint = SessionFile.fingerprint(MODEL);
        Path file = dir.resolve("lily.bin");
        int[] followUp;
        int[] cold;
        int savedTokens;
        try (Tern tern = Tern.load(MODEL, null, new Tern.Options(2, 256, 4, KVCacheType.F32));
             Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), 256, new SchedulerConfig(2, 64, 8, 0, true))) {
            s.start();
            int[] prompt = tern.tokenizer().encode("Once upon a time, there was a little girl named Lily. She liked to play"
                    + " in the park with her friends.", true, false);
            SchedulerTest.Collector first = new SchedulerTest.Collector();
            run(s, prompt, 30, first);
            int[] held = Arrays.copyOf(prompt, prompt.length + 30);
            System.arraycopy(tokens(first), 0, held, prompt.length, 30);

            SlotResult saved = s.saveSlot(0, file, fingerprint);
            savedTokens = saved.tokens();
            int blocks = (held.length - 1) / BlockPool.BLOCK_SIZE;
            assertEquals(blocks * BlockPool.BLOCK_SIZE, savedTokens, "the whole blocks of the prompt and answer");
            assertEquals(Files.size(file), saved.bytes());

            // A follow-up that starts with everything said so far: erased, nothing of it is cached any more.
            followUp = Arrays.copyOf(held, held.length + 1);
            followUp[held.length] = tern.tokenizer().encode(" Then", false, false)[0];
            assertEquals(held.length - 1, s.eraseSlot(0).tokens());
            assertEquals(0, s.eraseSlot(0).tokens(), "nothing left to erase");
            SchedulerTest.Collector c = new SchedulerTest.Collector();
            assertTrue(run(s, followUp, 20, c).cachedTokens() <= 0, "erased");
            cold = tokens(c);
        }
        // Another server: the file's blocks go into its prefix cache, where the follow-up finds them.
        try (Tern tern = Tern.load(MODEL, null, new Tern.Options(2, 256, 4, KVCacheType.F32));
             Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), 256, new SchedulerConfig(2, 64, 8, 0, true))) {
            s.start();
            SlotResult restored = s.restoreSlot(1, file, fingerprint);
            assertEquals(savedTokens, restored.tokens());
            SchedulerTest.Collector warm = new SchedulerTest.Collector();
            assertEquals(savedTokens, run(s, followUp, 20, warm).cachedTokens(), "the restored blocks are found");
            assertArrayEquals(cold, tokens(warm), "restored keys and values give the computed answer");

            // A file cut short: the whole blocks before the cut may stay cached, nothing half written is kept.
            Path cut = dir.resolve("cut.bin");
            byte[] bytes = Files.readAllBytes(file);
            Files.write(cut, Arrays.copyOf(bytes, bytes.length - 1000));
            s.eraseSlot(0);
            s.eraseSlot(1);
            int used = tern.engine().cache().usedBlocks();
            TernException truncated = assertThrows(TernException.class, () -> s.restoreSlot(1, cut, fingerprint));
            assertTrue(truncated.getMessage().endsWith("the KV cache file is truncated"), truncated.getMessage());
            assertEquals(used + savedTokens / BlockPool.BLOCK_SIZE - 1, tern.engine().cache().usedBlocks(),
                    "the blocks read whole are cached, the one cut short is freed");

            TernException other = assertThrows(TernException.class,
                    () -> s.restoreSlot(0, file, SessionFile.fingerprint(Fixtures.stories260K("stories260K-f32.gguf"))));
            assertTrue(other.getMessage().endsWith("the KV cache file was made with another model"), other.getMessage());
            assertThrows(IllegalArgumentException.class, () -> s.saveSlot(2, file, fingerprint));
            s.eraseSlot(0);
            s.eraseSlot(1);
            TernException empty = assertThrows(TernException.class, () -> s.saveSlot(1, dir.resolve("none.bin"), fingerprint));
            assertTrue(empty.getMessage().contains("holds no cached tokens"), empty.getMessage());
        }
    }

    /**
     * An action on a busy slot waits for its request to end, as llama-server defers it, and saves what that request
     * left; meanwhile the slot goes to no new request, so one waiting behind it cannot keep the action waiting.
     */
    @Test
    void aBusySlotIsWaitedFor(@TempDir Path dir) throws Exception {
        byte[] fingerprint = SessionFile.fingerprint(MODEL);
        try (Tern tern = Tern.load(MODEL, null, new Tern.Options(1, 256, 2, KVCacheType.F32));
             Scheduler s = new Scheduler(tern.engine(), tern.tokenizer(), 256, new SchedulerConfig(1, 64, 8, 0, true))) {
            int[] prompt = tern.tokenizer().encode("Once upon a time, there was a little girl named Lily", true, false);
            SchedulerTest.Collector first = new SchedulerTest.Collector();
            s.submit(new Request(prompt, SamplerConfig.greedy(), 30, List.of(), -1), first);
            assertTrue(s.step(), "admitted");
            assertEquals(0, s.running().getFirst().slot());
            CompletableFuture<SlotResult> save = new CompletableFuture<>();
            Thread saver = Thread.ofPlatform().start(() -> {
                try {
                    save.complete(s.saveSlot(0, dir.resolve("lily.bin"), fingerprint));
                } catch (RuntimeException e) {
                    save.completeExceptionally(e);
                }
            });
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (saver.getState() != Thread.State.TIMED_WAITING) {
                assertTrue(!save.isDone() && System.nanoTime() < deadline, "the save did not wait for the busy slot");
                Thread.onSpinWait();
            }
            SchedulerTest.Collector second = new SchedulerTest.Collector();
            s.submit(new Request(prompt, SamplerConfig.greedy(), 4, List.of(), -1), second);
            while (!save.isDone()) {
                s.step();
                assertTrue(System.nanoTime() < deadline, "the save did not end");
            }
            // Had the second request been given the slot first, the save would have waited for it and saved its
            // shorter text.
            int answered = prompt.length + 30 - 1;
            assertEquals(answered / BlockPool.BLOCK_SIZE * BlockPool.BLOCK_SIZE, save.get().tokens(),
                    "the whole blocks of the request that held the slot");
            while (!second.done.isDone()) {
                s.step();
            }
            assertEquals(FinishReason.LENGTH, second.done.get().reason());
        }
    }
}
