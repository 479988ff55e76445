package dev.tern.bench;

import dev.tern.Tern;
import dev.tern.engine.ContextShift;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.kv.KVCacheType;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * What context shifting costs: greedy generation of N tokens in a context of CTX positions with
 * the shift (llama-server's default: keep the BOS, drop half the rest), against filling one context
 * without it, alternated in one JVM, three rounds each; then the recompute of half a context, the
 * work of one shift. Usage: {@code java --add-modules jdk.incubator.vector -cp tern-jmh.jar
 * dev.tern.bench.ShiftCost MODEL.gguf CTX N}.
 */
public final class ShiftCost {
    private ShiftCost() {
    }

    public static void main(String[] args) {
        Path model = Path.of(args[0]);
        int ctx = Integer.parseInt(args[1]), n = Integer.parseInt(args[2]);
        try (Tern tern = Tern.load(model, null, new Tern.Options(2, ctx, 2, KVCacheType.F16))) {
            int[] prompt = tern.tokenizer().encode("Once upon a time", true, false);
            for (int round = 0; round < 6; round++) {
                boolean shift = round % 2 == 0;
                Sampler greedy = new Sampler(SamplerConfig.greedy().withLogitBias(Map.of(tern.tokenizer().eos(), SamplerConfig.NEVER)),
                        tern.tokenizer().vocabSize());
                try (Session session = tern.newSession()) {
                    GenerationResult r = Generator.generate(session, tern.tokenizer(), prompt, greedy, shift ? n : ctx - prompt.length,
                            List.of(), shift ? ContextShift.keeping(0, 0) : ContextShift.NONE, (id, t) -> true);
                    System.out.printf("%s %5d tokens: %.1f tokens/s%n", shift ? "with shifts   " : "one context   ", r.tokens().length,
                            r.timings().predictedPerSecond());
                }
            }
            try (Session session = tern.newSession()) {
                int[] half = new int[ctx / 2];
                Arrays.fill(half, prompt[prompt.length - 1]);
                for (int i = 0; i < 5; i++) {
                    session.truncate(0);
                    session.forward(prompt[0]);
                    long t0 = System.nanoTime();
                    session.forward(half);
                    System.out.printf("one shift's recompute (%d tokens): %.1f ms%n", half.length, (System.nanoTime() - t0) / 1e6);
                }
            }
        }
    }
}
