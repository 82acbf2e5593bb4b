package dev.vmlet.security;

import dev.vmlet.disk.QemuImg;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@link HostFiles} from tables: what local users may read, each image file's layer, the user's groups; it records every look. */
final class FakeHostFiles implements HostFiles {
  final Set<Path> readable = new HashSet<>();
  final Map<Path, QemuImg.Layer> layers = new HashMap<>();
  final List<String> looked = new ArrayList<>();
  Set<Integer> groups = Set.of(1001);

  @Override
  public String cannotRead(Access.Local who, Path file) {
    looked.add("read " + file + " as " + who.uid());
    return readable.contains(file) ? null : "cannot read it";
  }

  @Override
  public QemuImg.Layer layer(Access.Local who, Path image) throws IOException {
    looked.add("layer " + image + (who == null ? " as the daemon" : " as " + who.uid()));
    QemuImg.Layer l = layers.get(image);
    if (l == null) {
      throw new IOException("Could not open '" + image + "': Permission denied");
    }
    return l;
  }

  @Override
  public Set<Integer> groups(Access.Local who) {
    return groups;
  }

  /** A raw image without references. */
  FakeHostFiles raw(Path... files) {
    for (Path f : files) {
      layers.put(f, new QemuImg.Layer("raw", null, null));
    }
    return this;
  }
}
