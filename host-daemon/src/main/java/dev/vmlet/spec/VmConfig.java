package dev.vmlet.spec;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.ArrayList;

/**
 * What a VM is made of, validated on construction: a bad field is an {@link VmException} of kind
 * INVALID_ARGUMENT that names the field, what is allowed, and what was given.
 *
 * <p>One class, over 300 lines, on purpose: the compact constructor is the single place every
 * rule that spans fields is checked, and the Builder beside it is its defaults, so what makes a
 * valid VM is read in one file.
 *
 * @param name 1 to 63 characters, lower-case letters, digits and '-', starting with a letter or digit
 * @param vcpus 1 to {@link #MAX_VCPUS}
 * @param memoryMib {@link #MIN_MEMORY_MIB} to {@link #MAX_MEMORY_MIB}
 * @param image the boot source: "micro" (the built-in micro image; "micro-generic" the same on Debian's generic
 *     kernel, which mounts 9p), "debian" (the cached Debian cloud
 *     image; the daemon adds its root disk at create), "disk" (firmware boots the first disk, which
 *     needs a base image; the builder turns an image path into this) or "kernel" (the user's
 *     {@link DirectBoot} kernel), or {@code oci://REGISTRY/REPOSITORY:TAG} (a kernel + initramfs image from an
 *     OCI registry, booted like micro)
 * @param accel "auto", "kvm" or "tcg"
 * @param forwards user-mode network port forwards, at most {@link #MAX_FORWARDS}, no host port twice
 * @param labels at most {@link #MAX_LABELS}; see {@link #LABEL_KEY} and {@link #LABEL_VALUE}
 * @param disks at most {@link #MAX_DISKS}, names unique
 * @param tuning balloon, hugepages and CPU pinning; pinning lists one host CPU per vCPU
 * @param platform machine type, firmware, agent port, the guest OS profile and the TPM
 * @param directBoot the user's kernel when image is "kernel", else null
 * @param network user-mode networking (the default) or a pre-created TAP device
 * @param gpus PCI devices passed through with VFIO, at most {@link #MAX_GPUS}
 * @param cloudInit the user's cloud-init input; only for cloud images ("debian", "disk")
 * @param shares host directories shared with virtiofs or 9p, at most {@link #MAX_SHARES}, guest paths unique; q35 only
 * @param credentials systemd credentials for the guest (SMBIOS type 11), at most {@link Credential#MAX_COUNT}, names
 *     unique, {@link Credential#MAX_TOTAL} bytes encoded in all; q35 only (microvm has no SMBIOS tables)
 * @param httpProxy "" or the guest's HTTP(S) proxy, {@code http://[USER:PASS@]HOST[:PORT]}: for the agent's
 *     programs, and in cloud images for apt and login shells
 * @param restart what the daemon does with the VM when it starts and finds it not running (null: {@link RestartPolicy#NO})
 * @see Builder
 */
public record VmConfig(
    String name, int vcpus, long memoryMib, String image, String accel, List<PortForward> forwards,
    Map<String, String> labels, List<DiskConfig> disks, Tuning tuning, Platform platform, DirectBoot directBoot,
    Network network, List<PciAddress> gpus, CloudInitConfig cloudInit, List<Share> shares,
    List<Credential> credentials, String httpProxy,
    RestartPolicy restart) {
  public static final int MAX_NAME = 63;
  public static final int MAX_SHARES = 8;
  public static final int MAX_VCPUS = 64;
  public static final long MIN_MEMORY_MIB = 128;

  /** The least memory the named image boots in ({@link BuiltInImage#minMemoryMib()}; others {@link #MIN_MEMORY_MIB}). */
  public static long imageMemoryFloor(String image) {
    return BuiltInImage.named(image).map(BuiltInImage::minMemoryMib).orElse(MIN_MEMORY_MIB);
  }

  /**
   * Why {@code memoryMib} is too little for {@code image}, or empty when it is enough. Checked when a
   * VM is made and again when it starts: a VM stored before an image's floor was raised would
   * otherwise boot and never bring its agent up.
   */
  public static Optional<String> imageMemoryShortfall(String image, long memoryMib) {
    long least = imageMemoryFloor(image);
    return memoryMib >= least ? Optional.empty()
        : Optional.of("the " + image + " image needs at least " + least + " MiB (its initramfs and the agent's JVM"
            + " live in the guest's memory), got " + memoryMib);
  }
  public static final long MAX_MEMORY_MIB = 1024 * 1024;
  public static final int DEFAULT_VCPUS = 1;
  public static final long DEFAULT_MEMORY_MIB = 512;
  public static final int MAX_FORWARDS = 64;
  public static final int MAX_LABELS = 32;
  public static final int MAX_DISKS = 16;
  public static final int MAX_GPUS = 8;
  public static final Pattern LABEL_KEY = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,62}");
  public static final Pattern LABEL_VALUE = Pattern.compile("[A-Za-z0-9._-]{0,63}");

  private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]*");

  public VmConfig {
    validateName(name);
    if (vcpus < 1 || vcpus > MAX_VCPUS) {
      throw VmException.invalid("vcpus must be between 1 and " + MAX_VCPUS + ", got " + vcpus);
    }
    if (memoryMib < MIN_MEMORY_MIB || memoryMib > MAX_MEMORY_MIB) {
      throw VmException.invalid(
          "memory_mib must be between " + MIN_MEMORY_MIB + " and " + MAX_MEMORY_MIB + ", got " + memoryMib);
    }
    if (OciReference.isOci(image)) {
      try {
        OciReference.parse(image);
      } catch (IllegalArgumentException e) {
        throw VmException.invalid("image " + image + ": " + e.getMessage());
      }
    } else if (BuiltInImage.named(image).isEmpty() && !image.equals("disk") && !image.equals("kernel")) {
      throw VmException.invalid("image must be micro, micro-generic, debian, the absolute path of a disk image, disk (boot the first disk),"
          + " kernel (with kernel.path) or oci://REGISTRY/REPOSITORY:TAG, got '" + image + "'");
    }
    if (image.equals("kernel") != (directBoot != null)) {
      throw VmException.invalid(directBoot == null
          ? "image 'kernel' needs kernel.path: the kernel to boot"
          : "kernel.path is given, so image must be 'kernel' (or left empty), not '" + image + "'");
    }
    if (!accel.equals("auto") && !accel.equals("kvm") && !accel.equals("tcg")) {
      throw VmException.invalid("accel must be auto, kvm or tcg, got '" + accel + "'");
    }
    forwards = forwards == null ? List.of() : List.copyOf(forwards);
    if (forwards.size() > MAX_FORWARDS) {
      throw VmException.invalid("forwards: at most " + MAX_FORWARDS + ", got " + forwards.size());
    }
    Set<String> seen = new HashSet<>();
    for (PortForward f : forwards) {
      if (f.hostPort() != 0 && !seen.add(f.protocol() + " " + f.hostAddress() + " " + f.hostPort())) {
        throw VmException.invalid("forwards: host port " + f.hostPort() + "/" + f.protocol() + " is given twice");
      }
    }
    labels = labels == null ? Map.of() : Map.copyOf(new TreeMap<>(labels));
    if (labels.size() > MAX_LABELS) {
      throw VmException.invalid("labels: at most " + MAX_LABELS + ", got " + labels.size());
    }
    for (Map.Entry<String, String> l : labels.entrySet()) {
      if (!LABEL_KEY.matcher(l.getKey()).matches()) {
        throw VmException.invalid("labels: key '" + l.getKey() + "' is not allowed: letters, digits, '.', '_', '-', '/', at most 63");
      }
      if (!LABEL_VALUE.matcher(l.getValue()).matches()) {
        throw VmException.invalid("labels: value '" + l.getValue() + "' of '" + l.getKey()
            + "' is not allowed: letters, digits, '.', '_', '-', at most 63");
      }
    }
    disks = disks == null ? List.of() : List.copyOf(disks);
    if (disks.size() > MAX_DISKS) {
      throw VmException.invalid("disks: at most " + MAX_DISKS + ", got " + disks.size());
    }
    Set<String> diskNames = new HashSet<>();
    for (DiskConfig d : disks) {
      if (!diskNames.add(d.name())) {
        throw VmException.invalid("disks: the name '" + d.name() + "' is given twice");
      }
    }
    tuning = tuning == null ? Tuning.NONE : tuning;
    platform = platform == null ? Platform.DEFAULT : platform;
    network = network == null ? Network.USER : network;
    gpus = gpus == null ? List.of() : List.copyOf(gpus);
    cloudInit = cloudInit == null ? CloudInitConfig.NONE : cloudInit;
    if (!cloudInit.isEmpty() && !isCloudImage(image)) {
      throw VmException.invalid("cloud_init needs a cloud image (image debian or a disk image path); image '" + image
          + "' has no cloud-init");
    }
    if (!tuning.cpuPinning().isEmpty() && tuning.cpuPinning().size() != vcpus) {
      throw VmException.invalid("cpu_pinning must name one host CPU per vCPU: " + vcpus + " vCPUs, "
          + tuning.cpuPinning().size() + " CPUs given");
    }
    if (tuning.hugepages() && memoryMib % 2 != 0) {
      throw VmException.invalid("memory_mib must be a multiple of 2 with hugepages (2 MiB pages), got " + memoryMib);
    }
    if (image.equals("disk") && (disks.isEmpty() || disks.get(0).baseImage().isEmpty())) {
      throw VmException.invalid("image 'disk' boots the first disk: give a disk with a base_image first");
    }
    if (network.isTap() && !forwards.isEmpty()) {
      throw VmException.invalid("forwards need user-mode networking; with tap '" + network.tap()
          + "' the guest is reached on the bridge instead");
    }
    if (gpus.size() > MAX_GPUS) {
      throw VmException.invalid("gpus: at most " + MAX_GPUS + ", got " + gpus.size());
    }
    if (gpus.size() != new HashSet<>(gpus).size()) {
      throw VmException.invalid("gpus: a device is given twice");
    }
    if (platform.machine().equals("microvm")) {
      if (isCloudImage(image)) {
        throw VmException.invalid("machine microvm boots the micro image or a kernel only, not image '" + image + "': use machine q35");
      }
      if (!gpus.isEmpty()) {
        throw VmException.invalid("gpus need machine q35 (microvm has no PCI bus)");
      }
    }
    shares = shares == null ? List.of() : List.copyOf(shares);
    checkShares(shares, platform, image);
    if (platform.windows()) {
      checkWindows(image, cloudInit, shares);
    }
    credentials = credentials == null ? List.of() : List.copyOf(credentials);
    httpProxy = httpProxy == null ? "" : httpProxy;
    GuestSettings.check(credentials, httpProxy, platform);
    restart = restart == null ? RestartPolicy.NO : restart;
    if (!gpus.isEmpty() && !platform.firmware().equals("uefi")) {
      throw VmException.invalid("gpus need firmware uefi (a GPU's option ROM and large BARs need OVMF): add --firmware uefi");
    }
  }

  /** The Windows profile boots a disk through OVMF; nothing of the Linux images or cloud-init applies. */
  private static void checkWindows(String image, CloudInitConfig cloudInit, List<Share> shares) {
    if (!image.equals("disk")) {
      throw VmException.invalid("os windows boots a Windows disk image through UEFI (--image /path/windows.qcow2, or image disk"
          + " with a base disk first); image '" + image + "' is a Linux " + (image.equals("kernel") ? "direct kernel boot" : "image"));
    }
    if (!cloudInit.isEmpty()) {
      throw VmException.invalid("cloud_init is for Linux cloud images; leave it out for os windows (the image runs its own setup)");
    }
    if (!shares.isEmpty()) {
      throw VmException.invalid("shares are mounted by Linux guests only; leave them out for os windows (vmlet does not set up"
          + " WinFsp and the virtio-fs service)");
    }
  }

  private static void checkShares(List<Share> shares, Platform platform, String image) {
    if (shares.size() > MAX_SHARES) {
      throw VmException.invalid("shares: at most " + MAX_SHARES + ", got " + shares.size());
    }
    Set<String> guestPaths = new HashSet<>();
    for (Share s : shares) {
      if (!guestPaths.add(s.guestPath())) {
        throw VmException.invalid("shares: the guest path " + s.guestPath() + " is given twice; give each share its own");
      }
    }
    if (!shares.isEmpty() && platform.microvm()) {
      // vmlet puts vhost-user-fs and virtio-9p on PCI only; microvm has no PCI bus.
      throw VmException.invalid("shares need machine q35 (the default); microvm has no PCI bus for vhost-user-fs or virtio-9p");
    }
    if (BuiltInImage.named(image).filter(b -> !b.mounts9p()).isPresent() && shares.stream().anyMatch(Share::ninep)) {
      throw VmException.invalid("shares: type 9p needs a guest kernel with 9p, and the " + image + " image's kernel (Debian's"
          + " cloud kernel) has none; use virtiofs (the default), image micro-generic (Debian's generic kernel, with 9p),"
          + " or 9p with your own image or kernel");
    }
  }

  /** Whether the daemon attaches a NoCloud seed and the agent bundle: a Linux cloud image. */
  public boolean attachesSeed() {
    return isCloudImage(image) && !platform.windows();
  }

  /** Whether the image boots with cloud-init: a NoCloud seed and the agent bundle are attached. */
  public static boolean isCloudImage(String image) {
    return image.equals("debian") || image.equals("disk");
  }

  /** A config without port forwards, labels, disks or tuning. */
  public VmConfig(String name, int vcpus, long memoryMib, String image, String accel) {
    this(name, vcpus, memoryMib, image, accel, List.of(), Map.of(), List.of(), Tuning.NONE, Platform.DEFAULT, null, null, null, null, null,
        null, null, null);
  }

  /** The same config with one disk replaced (matched by name). */
  public VmConfig withDisk(DiskConfig disk) {
    List<DiskConfig> list = disks.stream().map(d -> d.name().equals(disk.name()) ? disk : d).toList();
    return withDisks(list);
  }

  /** The same config with {@code root} as its first disk (a cloud image's root disk). */
  public VmConfig withRootDisk(DiskConfig root) {
    if (disks.stream().anyMatch(d -> d.name().equals(root.name()))) {
      throw VmException.invalid("disks: '" + root.name() + "' is the name of the image's own disk; name yours otherwise");
    }
    List<DiskConfig> list = new ArrayList<>(disks);
    list.add(0, root);
    return withDisks(list);
  }

  private VmConfig withDisks(List<DiskConfig> list) {
    return new VmConfig(name, vcpus, memoryMib, image, accel, forwards, labels, list, tuning, platform, directBoot,
        network, gpus, cloudInit, shares, credentials, httpProxy, restart);
  }

  /** Checks a VM name; the message says what is allowed. */
  public static void validateName(String name) {
    if (name == null || name.isEmpty()) {
      throw VmException.invalid("name must not be empty");
    }
    if (name.length() > MAX_NAME) {
      throw VmException.invalid("name must be at most " + MAX_NAME + " characters, got " + name.length());
    }
    if (!NAME.matcher(name).matches()) {
      throw VmException.invalid(
          "name '" + name + "' is not allowed: use lower-case letters, digits and '-', starting with a letter or digit");
    }
  }

  public static Builder builder(String name) {
    return new Builder(name);
  }

  /**
   * Builds a config from the fields a caller sets; unset fields keep the defaults (1 vCPU, 512 MiB,
   * auto acceleration; the micro image, or "kernel" when a kernel is set). An empty image or accel
   * counts as unset.
   */
  public static final class Builder {
    private final String name;
    private int vcpus = DEFAULT_VCPUS;
    private long memoryMib = DEFAULT_MEMORY_MIB;
    private String image = "";
    private String accel = "auto";
    private List<PortForward> forwards = List.of();
    private Map<String, String> labels = Map.of();
    private List<DiskConfig> disks = List.of();
    private Tuning tuning = Tuning.NONE;
    private Platform platform = Platform.DEFAULT;
    private DirectBoot directBoot;
    private Network network = Network.USER;
    private List<PciAddress> gpus = List.of();
    private CloudInitConfig cloudInit = CloudInitConfig.NONE;
    private List<Share> shares = List.of();
    private List<Credential> credentials = List.of();
    private String httpProxy = "";
    private RestartPolicy restart = RestartPolicy.NO;

    private Builder(String name) {
      this.name = name;
    }

    public Builder vcpus(int v) {
      vcpus = v;
      return this;
    }

    public Builder memoryMib(long m) {
      memoryMib = m;
      return this;
    }

    public Builder image(String i) {
      image = i == null ? "" : i;
      return this;
    }

    public Builder accel(String a) {
      accel = a == null || a.isEmpty() ? "auto" : a;
      return this;
    }

    public Builder forwards(List<PortForward> f) {
      forwards = f;
      return this;
    }

    public Builder labels(Map<String, String> l) {
      labels = l;
      return this;
    }

    public Builder disks(List<DiskConfig> d) {
      disks = d;
      return this;
    }

    public Builder tuning(Tuning t) {
      tuning = t;
      return this;
    }

    public Builder platform(Platform p) {
      platform = p;
      return this;
    }

    public Builder directBoot(DirectBoot d) {
      directBoot = d;
      return this;
    }

    public Builder network(Network n) {
      network = n;
      return this;
    }

    public Builder gpus(List<PciAddress> g) {
      gpus = g;
      return this;
    }

    public Builder cloudInit(CloudInitConfig c) {
      cloudInit = c;
      return this;
    }

    public Builder shares(List<Share> s) {
      shares = s;
      return this;
    }

    public Builder credentials(List<Credential> c) {
      credentials = c;
      return this;
    }

    public Builder httpProxy(String p) {
      httpProxy = p;
      return this;
    }

    public Builder restart(RestartPolicy r) {
      restart = r;
      return this;
    }

    /**
     * Validates; throws {@link VmException} naming the first bad field. An image given as a path
     * becomes image "disk" with a persistent root disk over that image first.
     */
    public VmConfig build() {
      String img = !image.isEmpty() ? image : directBoot != null ? "kernel" : "micro";
      Optional<String> shortfall = memoryMib >= MIN_MEMORY_MIB ? imageMemoryShortfall(img, memoryMib) : Optional.empty();
      if (shortfall.isPresent()) {
        throw VmException.invalid("memory_mib: " + shortfall.get() + "; give --memory " + imageMemoryFloor(img) + " or more");
      }
      List<DiskConfig> all = disks;
      if (img.startsWith("/")) {
        for (DiskConfig d : disks) {
          if (d.name().equals("root")) {
            throw VmException.invalid("disks: 'root' is the name of the image's own disk; name yours otherwise");
          }
        }
        all = new ArrayList<>(List.of(new DiskConfig("root", img, 0, false)));
        all.addAll(disks);
        img = "disk";
      } else if (img.contains("/") && !OciReference.isOci(img)) {
        throw VmException.invalid("image '" + img + "' looks like a path; give the absolute path of a disk image");
      }
      return new VmConfig(name, vcpus, memoryMib, img, accel, forwards, labels, all, tuning, platform, directBoot,
          network, gpus, cloudInit, shares, credentials, httpProxy, restart);
    }
  }
}
