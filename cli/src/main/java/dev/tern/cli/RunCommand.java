package dev.tern.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.engine.ContextShift;
import dev.tern.engine.GenerationResult;
import dev.tern.engine.Generator;
import dev.tern.engine.Session;
import dev.tern.engine.SessionFile;
import dev.tern.engine.Timings;
import dev.tern.sampling.GbnfGrammar;
import dev.tern.sampling.Grammar;
import dev.tern.sampling.GrammarConstraint;
import dev.tern.sampling.JsonSchema;
import dev.tern.sampling.Sampler;
import dev.tern.sampling.SamplerConfig;
import dev.tern.sampling.TextPattern;
import dev.tern.spec.Proposer;
import dev.tern.spec.SpeculativeGenerator;
import dev.tern.spec.SpeculativeResult;
import dev.tern.spec.SpeculativeStats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
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

    @Mixin
    SpeculationOptions speculation;

    @Mixin
    ContextShiftOptions contextShift;

    @Option(names = {"-n", "--n-predict"}, description = "Tokens to generate, -1 = until the context is full (with --context-shift, until the end of the text) (default: ${DEFAULT-VALUE})")
    int maxTokens = 256;

    @Option(names = "--format", description = "Output: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    Format format = Format.text;

    @Option(names = {"-sp", "--special"}, description = "Print the control tokens the model writes (BOS, a chat template's"
            + " markers), which the text leaves out otherwise (as llama.cpp's --special)")
    boolean special;

    @Option(names = "--no-bos", description = "Do not add the BOS token the vocabulary asks for")
    boolean noBos;

    @Option(names = "--json-object", description = "Sample only tokens that keep the output one JSON object, and end with it"
            + " (the server's response_format json_object)")
    boolean jsonObject;

    @Option(names = {"-j", "--json-schema"}, paramLabel = "SCHEMA", description = "Sample only tokens that keep the output one"
            + " JSON value of this JSON Schema, and end with it (the server's response_format json_schema); as in llama.cpp the"
            + " schema itself, such as '{\"type\": \"object\"}' (a value that is not a JSON object names a file, as before)")
    String jsonSchema;

    @Option(names = {"-jf", "--json-schema-file"}, paramLabel = "FILE", description = "The same, with the schema read from FILE")
    Path jsonSchemaFile;

    @Option(names = {"-no-cnv", "--no-conversation"}, description = "Accepted for llama-cli command lines: tern run never"
            + " converses (tern chat does)")
    boolean noConversation;

    @Option(names = "--regex", paramLabel = "REGEX", description = "Sample only tokens that keep the whole output a match of"
            + " REGEX, and end on a match (the server's guided_regex)")
    String regex;

    @Option(names = "--grammar", paramLabel = "GBNF", description = "Sample only tokens that keep the output a text of this"
            + " GBNF grammar's root rule, and end with one (as llama.cpp's --grammar)")
    String grammar;

    @Option(names = "--grammar-file", paramLabel = "FILE", description = "The same, with the grammar read from FILE")
    Path grammarFile;

    @Parameters(index = "0", arity = "0..1", description = "The prompt (default: empty, BOS only)")
    String prompt;

    @Option(names = {"-p", "--prompt"}, paramLabel = "PROMPT", description = "The prompt, as llama.cpp's -p (instead of the argument)")
    String promptOption;

    @Option(names = "--stop", paramLabel = "TEXT", description = "End the generation before TEXT, which is left out, as the"
            + " server's stop (repeatable)")
    List<String> stop = List.of();

    @Option(names = "--no-escape", description = "Take \\n, \\t, \\\\ ... in the prompt and --stop literally; by default they are"
            + " a newline, a tab, a backslash ..., as in llama.cpp (a prompt file is always taken as it is)")
    boolean noEscape;

    @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "Read the prompt from FILE (as llama.cpp's -f)")
    Path promptFile;

    @Option(names = "--prompt-cache", paramLabel = "FILE", description = "Keep the prompt's KV cache in FILE, as llama.cpp's: a"
            + " later run whose prompt starts the same restores it instead of computing it")
    Path promptCache;

    @Option(names = "--prompt-cache-all", description = "Keep the generated tokens in the prompt cache too")
    boolean promptCacheAll;

    @Option(names = "--prompt-cache-ro", description = "Use the prompt cache but do not update it")
    boolean promptCacheReadOnly;

    /** The prompt argument, -p's or the file's text; one of them. */
    private String promptText() {
        int given = (prompt != null ? 1 : 0) + (promptOption != null ? 1 : 0) + (promptFile != null ? 1 : 0);
        if (given > 1) {
            throw new TernException("give the prompt one way: as an argument, with -p or with --file");
        }
        if (promptFile != null) {
            return TextFiles.read(promptFile);
        }
        String typed = prompt != null ? prompt : promptOption != null ? promptOption : "";
        return noEscape ? typed : Escapes.process(typed);
    }

    /** The --stop strings, escapes processed as the prompt's. */
    private List<String> stopStrings() {
        List<String> out = noEscape ? stop : stop.stream().map(Escapes::process).toList();
        if (out.contains("")) {
            throw new TernException("--stop needs some text");
        }
        return out;
    }

    @Override
    public Integer call() {
        String promptText = promptText();
        List<String> stops = stopStrings();
        ContextShift shift = contextShift.shift();
        try (Tern tern = modelOptions.load(); Session session = tern.newSession()) {
            int[] ids = tern.tokenizer().encode(promptText, !noBos, false);
            if (ids.length == 0) {
                throw new TernException("empty prompt and the vocabulary adds no BOS: give some text");
            }
            Grammar constraint = outputGrammar();
            SamplerConfig config = sampling.config(tern.tokenizer());

            Sampler sampler = new Sampler(config, tern.tokenizer(),
                    constraint == null ? null : new GrammarConstraint(new GrammarConstraint.Vocabulary(tern.tokenizer()), constraint));
            PrintWriter out = spec.commandLine().getOut();
            boolean text = format == Format.text;
            Generator.Listener listener = (id, piece) -> {
                if (text) {
                    out.print(special && id >= 0 && tern.tokenizer().isControl(id)
                            ? new String(tern.tokenizer().tokenBytes(id), StandardCharsets.UTF_8) : piece);
                    out.flush();
                }
                return true;
            };
            if (speculation.enabled() && !config.allowsSpeculation()) {
                throw new TernException("--mirostat and adaptive-p do not combine with speculative decoding: their state follows"
                        + " each drawn token");
            }
            Generator.checkPrompt(session, ids);
            byte[] fingerprint = promptCache == null ? null : promptCacheFingerprint();
            int restored = promptCache == null ? 0 : restorePromptCache(session, ids, fingerprint);
            for (int i = 0; i < restored; i++) {
                sampler.accept(ids[i]);
            }
            int[] context = Arrays.copyOf(ids, restored), rest = Arrays.copyOfRange(ids, restored, ids.length);
            GenerationResult r;
            SpeculativeStats stats = null;
            if (!speculation.enabled()) {
                r = Generator.generate(session, tern.tokenizer(), rest, sampler, maxTokens, stops, shift, listener);
            } else {
                try (Proposer proposer = speculation.proposer(tern, config, modelOptions.cacheType())) {
                    SpeculativeResult sr = SpeculativeGenerator.generate(session, tern.tokenizer(), context, rest, sampler, proposer,
                            speculation.lengths(), maxTokens, stops, shift, listener);
                    r = sr.generation();
                    stats = sr.stats();
                }
            }
            if (promptCache != null && !promptCacheReadOnly) {
                savePromptCache(session, ids, fingerprint);
            }
            // The whole prompt, restored or computed; the timings count the computed tokens.
            r = new GenerationResult(ids, r.tokens(), r.text(), r.stopReason(), r.timings(), r.contextShifts());
            if (text) {
                out.println();
                if (r.stopReason() == GenerationResult.StopReason.CONTEXT_FULL && maxTokens >= 0) {
                    // As llama.cpp's "context full": a run cut short should not look like one that finished.
                    spec.commandLine().getErr().printf("tern: the context (%d tokens) is full: stopped after %d of -n %d"
                            + " tokens (-c sets a larger context, --context-shift goes on past it)%n",
                            session.contextSize(), r.tokens().length, maxTokens);
                }
                printTimings(r.timings());
                if (stats != null) {
                    printSpeculation(stats);
                }
            } else {
                out.println(json(r, stats));
            }
        }
        return 0;
    }

    /**
     * --prompt-cache's checks before anything is restored, and the model file's fingerprint: the file keeps the
     * prompt's KV cache with its tokens, a later run restores what its prompt shares and computes the rest, then
     * the file is rewritten with the prompt (and with --prompt-cache-all the generated tokens) unless --prompt-cache-ro.
     */
    private byte[] promptCacheFingerprint() {
        if (modelOptions.altersModel()) {
            throw new TernException("--prompt-cache does not combine with LoRA adapters or --override-kv");
        }
        Path dir = promptCache.toAbsolutePath().getParent();
        if (!promptCacheReadOnly && (dir == null || !Files.isDirectory(dir) || !Files.isWritable(dir))) {
            throw new TernException(promptCache + ": cannot write the prompt cache there (no writable directory " + dir + ")");
        }
        return SessionFile.fingerprint(modelOptions.resolvedModel());
    }

    /** Restores the positions the file shares with the prompt (all but its last token at most); returns how many. */
    private int restorePromptCache(Session session, int[] ids, byte[] fingerprint) {
        int restored = SessionFile.restore(promptCache, session, ids, fingerprint);
        spec.commandLine().getErr().printf("prompt cache: %d of %d prompt tokens restored from %s%n", restored, ids.length, promptCache);
        return restored;
    }

    /**
     * Writes the prompt's cache (as much of the prompt as a context shift left in place), with
     * --prompt-cache-all everything the session holds.
     */
    private void savePromptCache(Session session, int[] ids, byte[] fingerprint) {
        int[] held = session.tokens();
        if (!promptCacheAll) {
            int same = 0;
            while (same < Math.min(held.length, ids.length) && held[same] == ids[same]) {
                same++;
            }
            held = Arrays.copyOf(held, same);
        }
        if (held.length > 0) {
            SessionFile.save(promptCache, session, held, fingerprint);
        }
    }

    /** What the output must be, or null for free text. */
    private Grammar outputGrammar() {
        int given = (jsonObject ? 1 : 0) + (jsonSchema != null ? 1 : 0) + (jsonSchemaFile != null ? 1 : 0) + (regex != null ? 1 : 0)
                + (grammar != null ? 1 : 0) + (grammarFile != null ? 1 : 0);
        if (given > 1) {
            throw new TernException("give one of --json-object, --json-schema, --json-schema-file, --regex, --grammar and --grammar-file");
        }
        if (regex != null) {
            return TextPattern.regex(regex);
        }
        if (grammar != null || grammarFile != null) {
            return GbnfGrammar.parse(grammar != null ? grammar : TextFiles.read(grammarFile));
        }
        if (jsonSchemaFile != null) {
            return JsonSchema.parse(TextFiles.read(jsonSchemaFile));
        }
        if (jsonSchema == null) {
            return jsonObject ? JsonSchema.ANY_OBJECT : null;
        }
        return JsonSchema.parse(jsonSchema.strip().startsWith("{") ? jsonSchema : TextFiles.read(Path.of(jsonSchema)));
    }

    private void printSpeculation(SpeculativeStats s) {
        PrintWriter err = spec.commandLine().getErr();
        err.printf("speculation: %d drafted, %d accepted (%.1f%%), %.2f accepted per proposal, %.2f tokens per target pass (%d passes)%n",
                s.drafted(), s.accepted(), 100 * s.acceptanceRate(), s.meanAcceptedLength(), s.tokensPerPass(), s.targetPasses());
        err.printf("speculation time: proposing %.1f ms, target passes %.1f ms%n", s.proposeMs(), s.verifyMs());
    }

    private void printTimings(Timings t) {
        PrintWriter err = spec.commandLine().getErr();
        err.printf("%nprompt: %d tokens in %.1f ms (%.2f tokens/s), time to first token %.1f ms%n",
                t.promptN(), t.promptMs(), t.promptPerSecond(), t.firstTokenMs());
        err.printf("generation: %d tokens in %.1f ms (%.2f tokens/s)%n", t.predictedN(), t.predictedMs(), t.predictedPerSecond());
    }

    /** The result as JSON; with {@code stats}, a "speculative" object as well. */
    static String json(GenerationResult r, SpeculativeStats stats) {
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
        root.put("context_shifts", r.contextShifts());
        Timings t = r.timings();
        ObjectNode tn = root.putObject("timings");
        tn.put("prompt_n", t.promptN());
        // llama-server's name: prompt tokens taken from a cache (here --prompt-cache), not computed.
        tn.put("cache_n", r.promptTokens().length - t.promptN());
        tn.put("prompt_ms", t.promptMs());
        tn.put("prompt_per_second", t.promptPerSecond());
        tn.put("predicted_n", t.predictedN());
        tn.put("predicted_ms", t.predictedMs());
        tn.put("predicted_per_second", t.predictedPerSecond());
        tn.put("ttft_ms", t.firstTokenMs());
        if (stats != null) {
            ObjectNode sn = root.putObject("speculative");
            sn.put("drafted", stats.drafted());
            sn.put("accepted", stats.accepted());
            sn.put("acceptance_rate", stats.acceptanceRate());
            sn.put("mean_accepted_length", stats.meanAcceptedLength());
            sn.put("target_passes", stats.targetPasses());
            sn.put("tokens_per_pass", stats.tokensPerPass());
            sn.put("propose_ms", stats.proposeMs());
            sn.put("verify_ms", stats.verifyMs());
            // Mean time of a target pass by the number of tokens it fed (1 = a plain decode step).
            ObjectNode bySize = sn.putObject("pass_ms_by_tokens");
            for (int n = 1; n < stats.passesBySize().length; n++) {
                if (stats.passesBySize()[n] > 0) {
                    bySize.put(Integer.toString(n), stats.meanPassMs(n));
                }
            }
        }
        return root.toString();
    }
}
