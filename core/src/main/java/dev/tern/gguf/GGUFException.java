package dev.tern.gguf;

import dev.tern.TernException;

import java.nio.file.Path;

/** A GGUF file that cannot be read: the message names the file and what is wrong with it. */
public final class GGUFException extends TernException {
    public GGUFException(Path file, String problem) {
        super(file + ": " + problem);
    }
}
