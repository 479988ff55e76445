package dev.tern.cli;

import dev.tern.Tern;
import dev.tern.kv.KVCacheType;
import dev.tern.model.WorkerPool;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Options shared by every command that loads a model. */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, description = "GGUF file or llama2.c .bin checkpoint (default: stories260K)")
    Path model;

    @Option(names = "--tokenizer", description = "Tokenizer for a llama2.c checkpoint (tokenizer.bin), or a tokenizer.json")
    Path tokenizer;

    @Option(names = {"-t", "--threads"}, description = "Worker threads (default: all cores)")
    int threads = WorkerPool.defaultThreads();

    @Option(names = {"-c", "--ctx-size"}, description = "Context size (default: the model's trained context)")
    int contextSize;

    @Option(names = "--cache-type", description = "KV cache precision: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE})")
    KVCacheType cacheType = KVCacheType.F16;

    Path resolvedModel() {
        return ModelLocator.resolve(model);
    }

    Tern load() {
        return load(null);
    }

    /** Loads the model, with {@code chatTemplate} (null: the model's own) as its chat template. */
    Tern load(String chatTemplate) {
        if (threads < 1) {
            throw new dev.tern.TernException("--threads must be at least 1");
        }
        if (contextSize < 0) {
            throw new dev.tern.TernException("--ctx-size must be positive");
        }
        return Tern.load(resolvedModel(), tokenizer, new Tern.Options(threads, contextSize, 1, cacheType, chatTemplate));
    }
}
