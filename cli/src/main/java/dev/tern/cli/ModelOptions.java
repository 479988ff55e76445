package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.TernException;
import dev.tern.gguf.MetadataOverride;
import dev.tern.kv.KVCacheType;
import dev.tern.model.WorkerPool;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/** Options shared by every command that loads a model. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, description = "GGUF file or llama2.c .bin checkpoint (default: stories260K)")
    Path model;

    @Option(names = "--tokenizer", description = "Tokenizer for a llama2.c checkpoint (tokenizer.bin), or a tokenizer.json")
    Path tokenizer;

    @Option(names = {"-t", "--threads"}, description = "Worker threads (default: all cores)")
    int threads = WorkerPool.defaultThreads();

    @Option(names = {"-c", "--ctx-size", "--max-model-len"}, description = "Context size (default: the model's trained context)")
    int contextSize;

    @Option(names = "--cache-type", description = "KV cache precision: ${COMPLETION-CANDIDATES} (default: F16)")
    KVCacheType cacheType;

    @Option(names = {"-ctk", "--cache-type-k"}, description = "llama.cpp's name for the keys' cache type; keys and values share"
            + " one type here, so -ctk and -ctv must agree")
    KVCacheType cacheTypeK;

    @Option(names = {"-ctv", "--cache-type-v"}, description = "llama.cpp's name for the values' cache type (see -ctk)")
    KVCacheType cacheTypeV;

    @Option(names = {"-ngl", "--n-gpu-layers", "--gpu-layers"}, paramLabel = "N", description = "Accepted for llama.cpp command"
            + " lines: Tern runs on the CPU, so more than 0 only prints a warning, as a CPU build of llama.cpp does")
    int gpuLayers;

    @Option(names = {"-fa", "--flash-attn"}, arity = "0..1", paramLabel = "on|off|auto", fallbackValue = "on",
            description = "Accepted for llama.cpp command lines: attention is always tiled with an online softmax"
                    + " (FlashAttention-style)")
    String flashAttention;

    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Option(names = "--mlock", description = "Keep the weights in RAM, as llama.cpp's --mlock: the kernel may not drop"
            + " their mapped pages (needs the locked-memory limit, ulimit -l, or root)")
    boolean mlock;

    @Option(names = "--batch-invariant", description = "Give a token the same logits whatever shares its forward pass (a"
            + " verify pass, other requests), also with quantized weights: their one-token kernels add in the batched"
            + " tiles' order (decode ~3%% slower for Q8_0, ~12%% for Q4_K_M, more for other types). F32, F16 and BF16"
            + " matrices (with AVX-512 also Q4_0, IQ4_NL and Q4_1) are batch-invariant anyway")
    boolean batchInvariant;

    @Option(names = "--lora", paramLabel = "FILE", description = "LoRA adapter to apply (llama.cpp's GGUF form); repeatable")
    List<Path> loras = new ArrayList<>();

    @Option(names = "--override-kv", paramLabel = "KEY=TYPE:VALUE", description = "Read this metadata value in place of the"
            + " GGUF file's (TYPE int, float, bool or str), as llama.cpp's --override-kv; repeatable")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--lora-scaled", arity = "2", paramLabel = "FILE SCALE",
            description = "LoRA adapter to apply with its effect scaled (1: as trained); repeatable")
    List<String> scaledLoras = new ArrayList<>();

    /** Whether adapters or metadata overrides change what the model file alone computes. */
    boolean altersModel() {
        return !loras.isEmpty() || !scaledLoras.isEmpty() || !overrides.isEmpty();
    }

    /** The KV cache type --cache-type, -ctk and -ctv give (F16 when none does); they must agree. */
    KVCacheType cacheType() {
        Set<KVCacheType> given = EnumSet.noneOf(KVCacheType.class);
        for (KVCacheType t : new KVCacheType[]{cacheType, cacheTypeK, cacheTypeV}) {
            if (t != null) {
                given.add(t);
            }
        }
        if (given.size() > 1) {
            throw new TernException("keys and values share one KV cache type in Tern: --cache-type, -ctk and -ctv disagree ("
                    + given + ")");
        }
        return given.isEmpty() ? KVCacheType.F16 : given.iterator().next();
    }

    /** llama.cpp's flags that have nothing to change here: checked, and -ngl noted. */
    private void checkLlamaCppFlags() {
        if (flashAttention != null && !Set.of("on", "off", "auto").contains(flashAttention)) {
            throw new TernException("--flash-attn takes on, off or auto, got '" + flashAttention + "'");
        }
        if (gpuLayers > 0 && command != null) {
            command.commandLine().getErr().println("tern: warning: no GPU support, --n-gpu-layers ignored: running on the CPU");
        }
    }

    /** Load-time options with these threads, context size, sequences and chat template (null: the model's). */
    Tern.Options options(int threads, int contextSize, int sequences, String chatTemplate) {
        return options(threads, contextSize, sequences, chatTemplate, List.of());
    }

    /** The same, with these named adapters besides --lora's and --lora-scaled's. */
    Tern.Options options(int threads, int contextSize, int sequences, String chatTemplate, List<Tern.Lora> named) {
        List<Tern.Lora> all = new ArrayList<>(named);
        loras.forEach(f -> all.add(new Tern.Lora(f, 1f)));
        for (int i = 0; i + 1 < scaledLoras.size(); i += 2) {
            float scale;
            try {
                scale = Float.parseFloat(scaledLoras.get(i + 1));
            } catch (NumberFormatException e) {
                throw new TernException("--lora-scaled " + scaledLoras.get(i) + ": '" + scaledLoras.get(i + 1) + "' is not a number");
            }
            all.add(new Tern.Lora(Path.of(scaledLoras.get(i)), scale));
        }
        checkLlamaCppFlags();
        return new Tern.Options(threads, contextSize, sequences, cacheType(), chatTemplate, all,
                overrides.stream().map(MetadataOverride::parse).toList(), mlock, batchInvariant);
    }

    /**
     * -c as llama-perplexity and llama-imatrix read it: the chunk size, 512 unless the model's context is
     * shorter, and never beyond that context.
     */
    int chunkSize(Tern tern) {
        int trained = tern.model().config().contextLength();
        int ctx = contextSize > 0 ? contextSize : Math.min(512, trained);
        if (ctx < 2 || ctx > trained) {
            throw new TernException("-c " + ctx + " must be between 2 and the model's context " + trained);
        }
        return ctx;
    }

    Path resolvedModel() {
        return ModelLocator.resolve(model);
    }

    Tern load() {
        return load(null);
    }

    /** Loads the model, with {@code chatTemplate} (null: the model's own) as its chat template. */
    Tern load(String chatTemplate) {
        if (threads < 1) {
            throw new TernException("--threads must be at least 1");
        }
        if (contextSize < 0) {
            throw new TernException("--ctx-size must be positive");
        }
        return Tern.load(resolvedModel(), tokenizer, options(threads, contextSize, 1, chatTemplate));
    }
}
