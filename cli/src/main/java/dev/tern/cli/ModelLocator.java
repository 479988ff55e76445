package dev.tern.cli;

import dev.tern.TernException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Finds model files. An explicit path is used as given; without one, the default model
 * (stories260K) is looked up in TERN_MODELS, then the fixture directory ../shared/models beside
 * the project, then the user's cache ~/.cache/tern/models.
 */
final class ModelLocator {
    static final String DEFAULT_MODEL = "stories260K/stories260K-f32.gguf";

    private ModelLocator() {
    }

    static Path resolve(Path explicit) {
        if (explicit != null) {
            if (!Files.exists(explicit)) {
                throw new TernException(explicit + ": no such file");
            }
            return explicit;
        }
        List<Path> tried = new ArrayList<>();
        for (Path dir : searchPath()) {
            for (Path candidate : List.of(dir.resolve(DEFAULT_MODEL), dir.resolve(Path.of(DEFAULT_MODEL).getFileName()))) {
                if (Files.isRegularFile(candidate)) {
                    return candidate;
                }
                tried.add(candidate);
            }
        }
        throw new TernException("default model not found (looked in " + tried + "); pass -m MODEL or set TERN_MODELS");
    }

    private static List<Path> searchPath() {
        List<Path> dirs = new ArrayList<>();
        String env = System.getenv("TERN_MODELS");
        if (env != null && !env.isBlank()) {
            dirs.add(Path.of(env));
        }
        String home = System.getProperty("tern.home");
        Path root = home != null ? Path.of(home) : Path.of("").toAbsolutePath();
        dirs.add(root.resolve("../shared/models").normalize());
        dirs.add(Path.of(System.getProperty("user.home"), ".cache", "tern", "models"));
        return dirs;
    }
}
