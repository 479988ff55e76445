package dev.tern.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.engine.Timings;
import dev.tern.sampling.Sampler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

/** {@code tern run}: continue a prompt, streaming only the generated text. */
@Command(name = "run", description = "Generate text after PROMPT; the text goes to stdout, timings to stderr.")
final class RunCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    enum Format { text, json }

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    SamplingOptions sampling;

    @Option(names = {"-n", "--n-predict"}, description = "Tokens to generate, -1 = until the context is full (default: ${DEFAULT-VALUE})")
    int maxTokens = 256;

    @Option(names = "--format", description = "Output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    Format format = Format.text;

    @Option(names = "--no-bos", description = "Do not add the BOS token the vocabulary asks for")
    boolean noBos;

    @Parameters(index = "0", arity = "0..1", description = "The prompt (default: empty, BOS only)")
    String prompt = "";

    @Override
    public Integer call() {
        try (Tern tern = modelOptions.load(); Session session = tern.newSession()) {
            int[] ids = tern.tokenizer().encode(prompt, !noBos, false);
            if (ids.length == 0) {
                throw new TernException("empty prompt and the vocabulary adds no BOS: give some text");
            }
            Sampler sampler = new Sampler(sampling.config(), tern.tokenizer().vocabSize());
            PrintWriter out = spec.commandLine().getOut();
            boolean text = format == Format.text;
            GenerationResult r = Generator.generate(session, tern.tokenizer(), ids, sampler, maxTokens, (id, piece) -> {
                if (text) {
                    out.print(piece);
                    out.flush();
                }
                return true;
            });
            if (text) {
                out.println();
                printTimings(r.timings());
            } else {
                out.println(json(r));
            }
        }
        return 0;
    }

    private void printTimings(Timings t) {
        PrintWriter err = spec.commandLine().getErr();
        err.printf("%nprompt: %d tokens in %.1f ms (%.2f tokens/s), time to first token %.1f ms%n",
                t.promptN(), t.promptMs(), t.promptPerSecond(), t.firstTokenMs());
        err.printf("generation: %d tokens in %.1f ms (%.2f tokens/s)%n", t.predictedN(), t.predictedMs(), t.predictedPerSecond());
    }

    static String json(GenerationResult r) {
        ObjectMapper m = new ObjectMapper();
        ObjectNode root = m.createObjectNode();
        var p = root.putArray("prompt_tokens");
        for (int id : r.promptTokens()) {
            p.add(id);
        }
        var g = root.putArray("tokens");
        for (int id : r.tokens()) {
            g.add(id);
        }
        root.put("text", r.text());
        root.put("stop_reason", r.stopReason().name().toLowerCase());
        Timings t = r.timings();
        ObjectNode tn = root.putObject("timings");
        tn.put("prompt_n", t.promptN());
        tn.put("prompt_ms", t.promptMs());
        tn.put("prompt_per_second", t.promptPerSecond());
        tn.put("predicted_n", t.predictedN());
        tn.put("predicted_ms", t.predictedMs());
        tn.put("predicted_per_second", t.predictedPerSecond());
        tn.put("ttft_ms", t.firstTokenMs());
        return root.toString();
    }
}
