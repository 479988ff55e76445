package dev.tern.model;

import dev.tern.TernException;
import dev.tern.gguf.GGUFFile;

import java.nio.file.Path;

/**
 * A loaded model: its hyper-parameters and weights, read-only and shareable between threads.
 * It holds no tokenizer (the caller pairs one with it) and no per-sequence state; running it
 * is the job of {@link ForwardPass} over a KV cache. Closing it unmaps the file it came from.
 */
public final class Model implements AutoCloseable {
    private final ModelConfig config;
    private final ModelWeights weights;
    private final AutoCloseable resource;

    /** A model over weights the caller keeps alive (for instance built in memory). */
    public Model(ModelConfig config, ModelWeights weights) {
        this(config, weights, null);
    }

    Model(ModelConfig config, ModelWeights weights, AutoCloseable resource) {
        this.config = config;
        this.weights = weights;
        this.resource = resource;
    }

    /** Loads a GGUF file or a llama2.c {@code .bin} checkpoint, told apart by their first bytes. */
    public static Model load(Path file) {
        if (GGUFFile.isGGUF(file)) {
            GGUFFile gguf = GGUFFile.open(file);
            try {
                return GGUFModelReader.read(gguf, gguf);
            } catch (RuntimeException e) {
                gguf.close();
                throw e;
            }
        }
        return Llama2cCheckpoint.load(file);
    }

    /** The model of an open GGUF file; the file stays the caller's to close (after this model). */
    public static Model fromGGUF(GGUFFile file) {
        return GGUFModelReader.read(file, null);
    }


    public ModelConfig config() {
        return config;
    }

    public ModelWeights weights() {
        return weights;
    }

    @Override
    public void close() {
        if (resource != null) {
            try {
                resource.close();
            } catch (Exception e) {
                throw new TernException("cannot close model: " + e.getMessage(), e);
            }
        }
    }
}
