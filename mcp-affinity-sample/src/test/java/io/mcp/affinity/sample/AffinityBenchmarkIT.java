package io.mcp.affinity.sample;

import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.ToDoubleFunction;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.SessionId;
import io.mcp.affinity.core.TwoTierOwnershipStore;
import io.mcp.affinity.core.redis.RedisOwnershipStore;
import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.core.test.TestRedis.EmbeddedRedis;
import io.mcp.affinity.sample.bench.ResolverBenchmark;
import io.mcp.affinity.sample.cluster.LocalCluster;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.springframework.data.redis.connection.RedisConnection;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;

/**
 * What session affinity costs, measured side by side in one run on this machine, as ratios (see
 * docs/benchmarks.md). Not part of the default build: {@code ./mvnw -pl mcp-affinity-sample -am verify -Pbenchmarks
 * -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false} ({@code -am}: the core and starter of this checkout, not
 * whatever the local repository holds).
 * Instances are separate processes of the packaged sample jar; the load generator runs in this JVM.
 */
class AffinityBenchmarkIT {

	private static final int SESSIONS = 8;

	// Long enough for the JIT to settle on the forwarding path (its CPU per request still fell after 20 s of load).
	private static final String SESSION_ID_OWNERSHIP = "--mcp.affinity.ownership=session-id";

	private static final String SERVLET = "--spring.main.web-application-type=servlet";

	private static final Duration WARM_UP = Duration.ofSeconds(30);

	// The load generator: wrk if installed (-Dbench.generator=jdk to use the JDK client anyway).
	private static final boolean WRK = !"jdk".equals(System.getProperty("bench.generator")) && WrkLoad.available();

	private static final Duration ROUND = Duration.ofSeconds(5);

	private static final int ROUNDS = 7;

	private static final String SESSION_INFO = "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":"
			+ "{\"name\":\"session_info\",\"arguments\":{}}}";

	// Each instance's process, to read the CPU time it spent on a round.
	private static final Map<URI, ProcessHandle> instances = new ConcurrentHashMap<>();

	private final List<Process> processes = new ArrayList<>();

	private final StringBuilder table = new StringBuilder();

	@Test
	void measureTheCostOfAffinity() throws Exception {
		EmbeddedRedis redis = EmbeddedRedis.start();
		try {
			URI owner = start(redis, true);
			URI other = start(redis, true);
			URI plain = start(null, false);
			// The same pair in session-id ownership: the id names the owner, no store on the request path.
			URI ownerById = start(redis, true, SESSION_ID_OWNERSHIP);
			URI otherById = start(redis, true, SESSION_ID_OWNERSHIP);
			// The servlet stack (the same jar on Tomcat): its own pair and its own baseline.
			URI ownerServlet = start(redis, true, SERVLET);
			URI otherServlet = start(redis, true, SERVLET);
			URI plainServlet = start(null, false, SERVLET);
			// The floor for a hop, on the same owner and load: a minimal JVM relay, and nginx when it is installed.
			Map<String, URI> calibrations = new java.util.LinkedHashMap<>();
			calibrations.put("minimal Reactor Netty relay", startRelay("MinimalRelay", owner));
			URI nginx = startNginx(owner);
			if (nginx != null) {
				calibrations.put("nginx (1 worker, upstream keep-alive)", nginx);
			}
			// The servlet stack's floor, in front of the servlet owner: Tomcat and the servlet forward's client, the
			// whole exchange on the request thread.
			URI servletFloor = startRelay("MinimalServletRelay", ownerServlet);
			row("group", "measure", "affinity / baseline", "figures");
			row("load", "generator", "", (WRK ? "wrk, 1 thread" : "JDK HttpClient, one thread per session") + ", "
					+ SESSIONS + " sessions on " + SESSIONS + " connections; nothing pinned");

			List<String> onOwner = sessions(owner);
			List<String> onPlain = sessions(plain);
			List<String> onOwnerById = sessions(ownerById);
			List<String> onOwnerServlet = sessions(ownerServlet);
			List<String> onPlainServlet = sessions(plainServlet);
			// Every path warmed up first (the JIT), then the rounds interleaved, so drift hits all paths alike.
			run(owner, onOwner, WARM_UP);
			run(plain, onPlain, WARM_UP);
			run(other, onOwner, WARM_UP);
			run(ownerById, onOwnerById, WARM_UP);
			run(otherById, onOwnerById, WARM_UP);
			run(ownerServlet, onOwnerServlet, WARM_UP);
			run(plainServlet, onPlainServlet, WARM_UP);
			run(otherServlet, onOwnerServlet, WARM_UP);
			for (URI hop : calibrations.values()) {
				run(hop, onOwner, WARM_UP);
			}
			run(servletFloor, onOwnerServlet, WARM_UP);
			List<Load> localOn = new ArrayList<>();
			List<Load> localOff = new ArrayList<>();
			List<Load> forwarded = new ArrayList<>();
			List<Load> localById = new ArrayList<>();
			List<Load> forwardedById = new ArrayList<>();
			List<Load> localServlet = new ArrayList<>();
			List<Load> localOffServlet = new ArrayList<>();
			List<Load> forwardedServlet = new ArrayList<>();
			Map<String, List<Load>> calibrated = new HashMap<>();
			List<Load> servletFloorRounds = new ArrayList<>();
			for (int i = 0; i < ROUNDS; i++) {
				localOn.add(run(owner, onOwner, ROUND));
				localOff.add(run(plain, onPlain, ROUND));
				forwarded.add(run(other, onOwner, ROUND));
				localById.add(run(ownerById, onOwnerById, ROUND));
				forwardedById.add(run(otherById, onOwnerById, ROUND));
				localServlet.add(run(ownerServlet, onOwnerServlet, ROUND));
				localOffServlet.add(run(plainServlet, onPlainServlet, ROUND));
				forwardedServlet.add(run(otherServlet, onOwnerServlet, ROUND));
				servletFloorRounds.add(run(servletFloor, onOwnerServlet, ROUND));
				for (Map.Entry<String, URI> hop : calibrations.entrySet()) {
					calibrated.computeIfAbsent(hop.getKey(), (name) -> new ArrayList<>()).add(run(hop.getValue(), onOwner, ROUND));
				}
			}
			Load on = median(localOn);
			Load off = median(localOff);
			Load hop = median(forwarded);
			row("1 local path", "throughput, on / off (median of " + ROUNDS + " rounds)",
					paired(localOn, Load::throughput, localOff, Load::throughput),
					on + " vs " + off + "; rounds on " + range(localOn) + ", off " + range(localOff));
			row("1 local path", "CPU per request, on / off",
					paired(localOn, (load) -> load.cpu(owner), localOff, (load) -> load.cpu(plain)),
					micros(on.cpu(owner)) + " vs " + micros(off.cpu(plain)) + " (instance's CPU time / requests)");
			Load onById = median(localById);
			Load hopById = median(forwardedById);
			row("1 local path", "session-id ownership: throughput, on / off",
					paired(localById, Load::throughput, localOff, Load::throughput),
					onById + "; rounds " + range(localById));
			row("1 local path", "session-id ownership: CPU per request, on / off",
					paired(localById, (load) -> load.cpu(ownerById), localOff, (load) -> load.cpu(plain)),
					micros(onById.cpu(ownerById)) + " vs " + micros(off.cpu(plain)));
			row("2 forwarded path", "throughput, forwarded / direct",
					paired(forwarded, Load::throughput, localOn, Load::throughput),
					hop + " vs " + on + "; rounds " + range(forwarded));
			Load onServlet = median(localServlet);
			Load offServlet = median(localOffServlet);
			Load hopServlet = median(forwardedServlet);
			row("1 local path", "servlet stack: throughput, on / off",
					paired(localServlet, Load::throughput, localOffServlet, Load::throughput),
					onServlet + " vs " + offServlet + "; rounds on " + range(localServlet));
			row("1 local path", "servlet stack: CPU per request, on / off",
					paired(localServlet, (load) -> load.cpu(ownerServlet), localOffServlet,
							(load) -> load.cpu(plainServlet)),
					micros(onServlet.cpu(ownerServlet)) + " vs " + micros(offServlet.cpu(plainServlet)));
			row("2 forwarded path", "servlet stack: throughput, forwarded / direct",
					paired(forwardedServlet, Load::throughput, localServlet, Load::throughput),
					hopServlet + " vs " + onServlet + "; rounds " + range(forwardedServlet));
			row("2 forwarded path", "servlet stack: hop CPU per request / owner's CPU per request",
					paired(forwardedServlet, (load) -> load.cpu(otherServlet), localServlet,
							(load) -> load.cpu(ownerServlet)), "forwarder "
							+ micros(hopServlet.cpu(otherServlet)) + " + owner " + micros(hopServlet.cpu(ownerServlet))
							+ " vs owner alone " + micros(onServlet.cpu(ownerServlet)));
			row("2 forwarded path", "servlet stack: added p50 per hop, under load (" + SESSIONS + " clients)",
					addedP50(forwardedServlet, localServlet), "");
			Load servletFloorLoad = median(servletFloorRounds);
			row("2 calibration", "minimal servlet relay: throughput / direct",
					paired(servletFloorRounds, Load::throughput, localServlet, Load::throughput),
					servletFloorLoad + "; rounds " + range(servletFloorRounds));
			row("2 calibration", "minimal servlet relay: hop CPU per request / owner's CPU per request",
					paired(servletFloorRounds, (load) -> load.cpu(servletFloor), localServlet,
							(load) -> load.cpu(ownerServlet)),
					"relay " + micros(servletFloorLoad.cpu(servletFloor)) + ", owner "
							+ micros(servletFloorLoad.cpu(ownerServlet)));
			row("2 calibration", "ours / minimal servlet relay: throughput, hop CPU per request",
					paired(forwardedServlet, Load::throughput, servletFloorRounds, Load::throughput) + ", "
							+ paired(forwardedServlet, (load) -> load.cpu(otherServlet), servletFloorRounds,
									(load) -> load.cpu(servletFloor)),
					"");
			row("2 forwarded path", "session-id ownership: throughput, forwarded / direct",
					paired(forwardedById, Load::throughput, localById, Load::throughput),
					hopById + "; rounds " + range(forwardedById));
			row("2 forwarded path", "session-id ownership: hop CPU per request / owner's CPU per request",
					paired(forwardedById, (load) -> load.cpu(otherById), localById, (load) -> load.cpu(ownerById)),
					"forwarder " + micros(hopById.cpu(otherById))
							+ " + owner " + micros(hopById.cpu(ownerById)) + " vs owner alone " + micros(onById.cpu(ownerById)));
			// On a machine whose cores all instances share, throughput follows the CPU a request costs in all of them.
			row("2 forwarded path", "CPU per request, direct / forwarded (all instances)",
					paired(localOn, (load) -> load.cpu(owner), forwarded, (load) -> load.cpu(other) + load.cpu(owner)),
					"forwarder " + micros(hop.cpu(other)) + " + owner " + micros(hop.cpu(owner)) + " vs owner alone "
							+ micros(on.cpu(owner)));
			row("2 forwarded path", "added p50 per hop, under load (" + SESSIONS + " clients)",
					addedP50(forwarded, localOn), "");
			row("2 forwarded path", "hop CPU per request / owner's CPU per request",
					paired(forwarded, (load) -> load.cpu(other), localOn, (load) -> load.cpu(owner)),
					"target <= 1.0x");
			for (Map.Entry<String, URI> calibration : calibrations.entrySet()) {
				List<Load> floorRounds = calibrated.get(calibration.getKey());
				Load floor = median(floorRounds);
				URI at = calibration.getValue();
				row("2 calibration", calibration.getKey() + ": throughput / direct",
						paired(floorRounds, Load::throughput, localOn, Load::throughput),
						floor + "; rounds " + range(calibrated.get(calibration.getKey())));
				row("2 calibration", calibration.getKey() + ": hop CPU per request", micros(floor.cpu(at)),
						"owner " + micros(floor.cpu(owner)));
				row("2 calibration", "ours / " + calibration.getKey() + ": throughput, hop CPU per request",
						paired(forwarded, Load::throughput, floorRounds, Load::throughput) + ", "
								+ paired(forwarded, (load) -> load.cpu(other), floorRounds, (load) -> load.cpu(at)),
						"");
			}
			// One request at a time: the hop's own latency, without queueing for the shared cores. The calibration hops
			// and the servlet pair in the same rounds, so the floor for this latency is measured beside ours.
			List<String> one = onOwner.subList(0, 1);
			List<String> oneServlet = onOwnerServlet.subList(0, 1);
			List<Load> singleDirect = new ArrayList<>();
			List<Load> singleForwarded = new ArrayList<>();
			List<Load> singleDirectServlet = new ArrayList<>();
			List<Load> singleForwardedServlet = new ArrayList<>();
			List<Load> singleServletFloor = new ArrayList<>();
			Map<String, List<Load>> singleCalibrated = new HashMap<>();
			for (int i = 0; i < ROUNDS; i++) {
				singleDirect.add(run(owner, one, ROUND));
				singleForwarded.add(run(other, one, ROUND));
				for (Map.Entry<String, URI> hop1 : calibrations.entrySet()) {
					singleCalibrated.computeIfAbsent(hop1.getKey(), (name) -> new ArrayList<>())
						.add(run(hop1.getValue(), one, ROUND));
				}
				singleDirectServlet.add(run(ownerServlet, oneServlet, ROUND));
				singleForwardedServlet.add(run(otherServlet, oneServlet, ROUND));
				singleServletFloor.add(run(servletFloor, oneServlet, ROUND));
			}
			Load direct1 = median(singleDirect);
			Load hop1 = median(singleForwarded);
			row("2 forwarded path", "added p50 per hop, one client", addedP50(singleForwarded, singleDirect),
					"p50 " + String.format(Locale.ROOT, "%.2f ms vs %.2f ms", hop1.p50() / 1e6, direct1.p50() / 1e6)
							+ "; throughput " + ratio(hop1.throughput(), direct1.throughput()) + "; target <= 0.25 ms");
			for (Map.Entry<String, List<Load>> calibration : singleCalibrated.entrySet()) {
				Load floor1 = median(calibration.getValue());
				row("2 calibration", calibration.getKey() + ": added p50 per hop, one client",
						addedP50(calibration.getValue(), singleDirect), String.format(Locale.ROOT, "p50 %.2f ms; ours %s",
								floor1.p50() / 1e6, addedP50(singleForwarded, singleDirect)));
			}
			Load direct1Servlet = median(singleDirectServlet);
			Load hop1Servlet = median(singleForwardedServlet);
			row("2 forwarded path", "servlet stack: added p50 per hop, one client",
					addedP50(singleForwardedServlet, singleDirectServlet),
					String.format(Locale.ROOT, "p50 %.2f ms vs %.2f ms", hop1Servlet.p50() / 1e6,
							direct1Servlet.p50() / 1e6) + "; throughput "
							+ ratio(hop1Servlet.throughput(), direct1Servlet.throughput()));
			row("2 calibration", "minimal servlet relay: added p50 per hop, one client",
					addedP50(singleServletFloor, singleDirectServlet),
					String.format(Locale.ROOT, "p50 %.2f ms; ours %s", median(singleServletFloor).p50() / 1e6,
							addedP50(singleForwardedServlet, singleDirectServlet)));

			double firstEventForwarded = firstProgress(other, onOwner.get(0));
			double firstEventDirect = firstProgress(owner, onOwner.get(0));
			row("3 SSE", "first progress event p50, forwarded / direct", ratio(firstEventForwarded, firstEventDirect),
					String.format(Locale.ROOT, "%.2f ms vs %.2f ms", firstEventForwarded / 1e6, firstEventDirect / 1e6));
			double firstEventForwardedServlet = firstProgress(otherServlet, onOwnerServlet.get(0));
			double firstEventDirectServlet = firstProgress(ownerServlet, onOwnerServlet.get(0));
			row("3 SSE", "servlet stack: first progress event p50, forwarded / direct",
					ratio(firstEventForwardedServlet, firstEventDirectServlet), String.format(Locale.ROOT,
							"%.2f ms vs %.2f ms", firstEventForwardedServlet / 1e6, firstEventDirectServlet / 1e6));

			store(redis);
			memory(redis);
			redisBytesBySessionId(redis, ownerById);
			redisLoad(redis, owner, other, onOwner, "store ownership");
			redisLoad(redis, ownerById, otherById, onOwnerById, "session-id ownership");
		}
		finally {
			// SIGTERM first, so a profiler the instances may run (see bench.jvm) can write its recording.
			this.processes.forEach(Process::destroy);
			for (Process process : this.processes) {
				if (!process.waitFor(20, TimeUnit.SECONDS)) {
					process.destroyForcibly();
				}
			}
			redis.stop();
		}
		System.out.println();
		System.out.println(this.table);
		Files.writeString(Path.of("target", "benchmark-results.md"), this.table.toString());
	}

	private URI start(EmbeddedRedis redis, boolean affinity, String... more) throws Exception {
		URI address = URI.create("http://127.0.0.1:" + TestRedis.freePort());
		List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java")));
		// e.g. -Dbench.jvm=-XX:StartFlightRecording=filename=target/benchmark/%p.jfr, to profile the instances
		String jvm = System.getProperty("bench.jvm", "");
		if (!jvm.isBlank()) {
			command.addAll(List.of(jvm.trim().split("\\s+")));
		}
		command.addAll(List.of("-jar", System.getProperty("sample.jar"), "--server.port=" + address.getPort(),
				"--server.address=127.0.0.1", "--spring.main.banner-mode=off", "--logging.level.root=WARN"));
		if (redis != null) {
			command.addAll(List.of("--spring.data.redis.host=127.0.0.1", "--spring.data.redis.port=" + redis.port(),
					"--mcp.affinity.local-server-address=" + address, "--mcp.affinity.forwarding.secret=benchmark-secret!",
					// Heartbeats rare, so they do not blur the Redis command counts (the benchmark counts commands per
					// request; nothing in it fails or passes on liveness).
					"--mcp.affinity.heartbeat.interval=60s", "--mcp.affinity.heartbeat.time-to-live=180s"));
		}
		if (!affinity) {
			command.add("--mcp.affinity.enabled=false");
		}
		command.addAll(List.of(more));
		Path log = Files.createDirectories(Path.of("target", "benchmark")).resolve("instance-" + address.getPort() + ".log");
		Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
		this.processes.add(process);
		instances.put(address, process.toHandle());
		LocalCluster.awaitReady(address, List.of(process));
		return address;
	}

	// A relay of the bench sources (MinimalRelay, MinimalServletRelay) in a JVM of its own, in front of the owner.
	private URI startRelay(String relay, URI owner) throws Exception {
		URI address = URI.create("http://127.0.0.1:" + TestRedis.freePort());
		Path log = Files.createDirectories(Path.of("target", "benchmark")).resolve(relay + ".log");
		Process process = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-cp",
				System.getProperty("java.class.path"), "io.mcp.affinity.sample.bench." + relay,
				Integer.toString(address.getPort()), owner.toString())
			.redirectErrorStream(true)
			.redirectOutput(log.toFile())
			.start();
		this.processes.add(process);
		instances.put(address, process.toHandle());
		awaitListening(address);
		return address;
	}

	// nginx in front of the owner, as the calibration ran it; null when nginx is not installed.
	private URI startNginx(URI owner) throws Exception {
		Path directory = Files.createDirectories(Path.of("target", "benchmark", "nginx").toAbsolutePath());
		URI address = URI.create("http://127.0.0.1:" + TestRedis.freePort());
		Path config = directory.resolve("nginx.conf");
		Files.writeString(config, String.join("\n", "worker_processes 1;", "pid " + directory.resolve("nginx.pid") + ";",
				"error_log " + directory.resolve("error.log") + ";", "events { worker_connections 1024; }", "http {",
				"  access_log off;", "  upstream owner { server " + owner.getAuthority() + "; keepalive 16; }",
				"  server {", "    listen " + address.getAuthority() + ";", "    location / {",
				"      proxy_pass http://owner;", "      proxy_http_version 1.1;", "      proxy_set_header Connection \"\";",
				"      proxy_buffering off;", "    }", "  }", "}", ""));
		Process process;
		try {
			process = new ProcessBuilder("nginx", "-p", directory.toString(), "-c", config.toString(), "-g",
					"daemon off;")
				.redirectErrorStream(true)
				.redirectOutput(directory.resolve("nginx.log").toFile())
				.start();
		}
		catch (java.io.IOException ex) {
			return null;
		}
		this.processes.add(process);
		instances.put(address, process.toHandle());
		awaitListening(address);
		return address;
	}

	private static void awaitListening(URI address) throws InterruptedException {
		for (int i = 0; i < 200; i++) {
			try (java.net.Socket socket = new java.net.Socket(address.getHost(), address.getPort())) {
				return;
			}
			catch (java.io.IOException ex) {
				Thread.sleep(50);
			}
		}
		throw new IllegalStateException("Nothing listens at " + address);
	}

	private static List<String> sessions(URI instance) throws Exception {
		List<String> sessions = new ArrayList<>();
		for (int i = 0; i < SESSIONS; i++) {
			sessions.add(RawMcp.initialize(instance));
		}
		return sessions;
	}

	private static Load median(List<Load> rounds) {
		List<Load> sorted = new ArrayList<>(rounds);
		sorted.sort((a, b) -> Double.compare(a.throughput(), b.throughput()));
		return sorted.get(sorted.size() / 2);
	}

	// Min and max throughput of the rounds.
	private static String range(List<Load> rounds) {
		double min = rounds.stream().mapToDouble(Load::throughput).min().orElse(0);
		double max = rounds.stream().mapToDouble(Load::throughput).max().orElse(0);
		return String.format(Locale.ROOT, "%.0f-%.0f req/s", min, max);
	}

	/**
	 * One connection per session, calling session_info for the duration: with wrk when it is installed, else with one
	 * JDK client thread per session. Also the CPU time each instance spent per request meanwhile.
	 */
	private static Load run(URI target, List<String> sessions, Duration duration) throws Exception {
		Map<URI, Long> cpuBefore = cpuTimes();
		Load load;
		if (WRK) {
			WrkLoad.Result result = WrkLoad.run(target, sessions, SESSION_INFO, duration);
			load = new Load(result.requests() / (duration.toNanos() / 1e9), result.p50(), result.p99(), Map.of(),
					result.errors());
		}
		else {
			load = runWithJdkClient(target, sessions, duration);
		}
		Map<URI, Long> cpuAfter = cpuTimes();
		double requests = load.throughput() * (duration.toNanos() / 1e9);
		Map<URI, Double> cpuPerRequest = new HashMap<>();
		cpuAfter.forEach((instance, cpu) -> cpuPerRequest.put(instance,
				(cpu - cpuBefore.getOrDefault(instance, cpu)) / requests));
		return new Load(load.throughput(), load.p50(), load.p99(), cpuPerRequest, load.errors());
	}

	private static Load runWithJdkClient(URI target, List<String> sessions, Duration duration) throws Exception {
		ExecutorService threads = Executors.newFixedThreadPool(sessions.size());
		long end = System.nanoTime() + duration.toNanos();
		List<Future<long[]>> results = new ArrayList<>();
		AtomicLong errors = new AtomicLong();
		for (String session : sessions) {
			results.add(threads.submit(() -> {
				List<Long> latencies = new ArrayList<>();
				while (System.nanoTime() < end) {
					long start = System.nanoTime();
					HttpResponse<String> response = RawMcp.post(target, session, SESSION_INFO);
					if (response.statusCode() != 200) {
						// Counted and shown, not fatal: e.g. a 503 while a cold instance's first Redis call is slow.
						errors.incrementAndGet();
						continue;
					}
					latencies.add(System.nanoTime() - start);
				}
				return latencies.stream().mapToLong(Long::longValue).toArray();
			}));
		}
		List<Long> all = new ArrayList<>();
		for (Future<long[]> result : results) {
			Arrays.stream(result.get()).forEach(all::add);
		}
		threads.shutdown();
		long[] sorted = all.stream().mapToLong(Long::longValue).sorted().toArray();
		if (sorted.length == 0) {
			throw new IllegalStateException(target + " answered no request with 200 (" + errors.get() + " errors)");
		}
		return new Load(sorted.length / (duration.toNanos() / 1e9), sorted[sorted.length / 2],
				sorted[(int) (sorted.length * 0.99)], Map.of(), errors.get());
	}

	/** CPU time each instance has used so far, in nanoseconds. */
	private static Map<URI, Long> cpuTimes() {
		Map<URI, Long> times = new HashMap<>();
		// A process and its children: nginx's master does none of the work, its worker does.
		instances.forEach((address, process) -> times.put(address, Stream.concat(Stream.of(process), process.descendants())
			.mapToLong((each) -> each.info().totalCpuDuration().map(Duration::toNanos).orElse(0L))
			.sum()));
		return times;
	}

	private static String micros(double nanos) {
		return String.format(Locale.ROOT, "%.0f us", nanos / 1e3);
	}

	private static double firstProgress(URI target, String session) throws Exception {
		long[] samples = new long[30];
		for (int i = 0; i < samples.length; i++) {
			long start = System.nanoTime();
			HttpResponse<Stream<String>> response = RawMcp.HTTP.send(RawMcp.request(target, session,
					"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"countdown\","
							+ "\"arguments\":{\"from\":2,\"delayMs\":1},\"_meta\":{\"progressToken\":\"t\"}}}")
				.build(), HttpResponse.BodyHandlers.ofLines());
			try (Stream<String> lines = response.body()) {
				lines.filter((line) -> line.contains("notifications/progress")).findFirst();
			}
			samples[i] = System.nanoTime() - start;
		}
		Arrays.sort(samples);
		return samples[samples.length / 2];
	}

	// Group 4 through JMH, in a JVM of its own (fork), against the same Redis.
	private void store(EmbeddedRedis redis) throws RunnerException {
		Options options = new OptionsBuilder().include(Pattern.quote(ResolverBenchmark.class.getName()) + "\\.")
			.param("redisPort", Integer.toString(redis.port()))
			.forks(1)
			.warmupIterations(3)
			.warmupTime(TimeValue.seconds(1))
			.measurementIterations(5)
			.measurementTime(TimeValue.seconds(1))
			.shouldFailOnError(true)
			.build();
		Map<String, Result<?>> results = new HashMap<>();
		for (RunResult result : new Runner(options).run()) {
			String benchmark = result.getParams().getBenchmark();
			results.put(benchmark.substring(benchmark.lastIndexOf('.') + 1), result.getPrimaryResult());
		}
		Result<?> l1Hit = results.get("l1Hit");
		Result<?> redisServed = results.get("redisServed");
		row("4 store", "resolve, L1 hit", String.format(Locale.ROOT, "%.0f +- %.0f ns/op", l1Hit.getScore(),
				l1Hit.getScoreError()), "JMH, mean +- 99.9% error, resolve + block(); target <= 200 ns/op");
		row("4 store", "resolve, served by Redis, p50", String.format(Locale.ROOT, "%.0f us",
				redisServed.getStatistics().getPercentile(50)), String.format(Locale.ROOT,
						"JMH sample time, mean %.0f +- %.0f us, p99 %.0f us; target <= 300 us", redisServed.getScore(),
						redisServed.getScoreError(), redisServed.getStatistics().getPercentile(99)));
	}

	private void memory(EmbeddedRedis redis) {
		InstanceIdentity self = InstanceIdentity.create(URI.create("http://127.0.0.1:1"));
		LettuceConnectionFactory factory = redis.connectionFactory();
		try {
			TwoTierOwnershipStore store = new TwoTierOwnershipStore(self.epoch(),
					// The default prefix: what a deployment pays per session.
					new RedisOwnershipStore(TestRedis.template(factory), RedisOwnershipStore.DEFAULT_KEY_PREFIX,
							Duration.ofMinutes(30), RedisOwnershipStore.DEFAULT_OPERATION_TIMEOUT),
					Duration.ofMinutes(30));
			int n = 1_000_000;
			String[] ids = new String[n];
			for (int i = 0; i < n; i++) {
				ids[i] = UUID.randomUUID().toString();
			}
			long before = usedHeap();
			// Entries as a claim leaves them, without a million Redis round trips: findOwner after a claim is what
			// L1 holds; here the claim's L1 side is taken directly through a store whose L2 answers at once.
			TwoTierOwnershipStore offline = new TwoTierOwnershipStore(self.epoch(), new InstantStore(),
					Duration.ofMinutes(30));
			for (int i = 0; i < n; i++) {
				offline.claim(SessionId.of(ids[i]), self.epoch()).block();
			}
			long after = usedHeap();
			row("5 memory", "heap per tracked session in L1 (1M)", String.format(Locale.ROOT, "%.0f B",
					(after - before) / (double) n), "target <= 250 B; the id strings themselves are counted apart");
			if (offline.localSessionCount() != n) {
				throw new IllegalStateException("sessions lost: " + offline.localSessionCount());
			}
			// Redis: used_memory before and after 20,000 sessions claimed the real way (key, value, expiry).
			int keys = 20_000;
			long redisBefore = usedRedisMemory(factory);
			reactor.core.publisher.Flux.range(0, keys)
				.flatMap((i) -> store.claim(SessionId.of(ids[i]), self.epoch()), 64)
				.blockLast();
			long bytes = (usedRedisMemory(factory) - redisBefore) * 1_000 / keys;
			row("5 memory", "Redis bytes per session (used_memory delta, 20k sessions, default key prefix)",
					bytes / 1_000 + " B", "target <= 150 B; Redis " + redisVersion(factory));
		}
		finally {
			factory.destroy();
		}
	}

	// Sessions created the real way (initialize over HTTP) on an instance in session-id ownership: what Redis holds
	// for them.
	private void redisBytesBySessionId(EmbeddedRedis redis, URI ownerById) throws Exception {
		LettuceConnectionFactory factory = redis.connectionFactory();
		try {
			int count = 2_000;
			long keysBefore = keys(factory);
			long before = usedRedisMemory(factory);
			for (int i = 0; i < count; i++) {
				RawMcp.initialize(ownerById);
			}
			long bytes = (usedRedisMemory(factory) - before) / count;
			row("5 memory", "session-id ownership: Redis bytes and keys per session (2k sessions, initialize over HTTP)",
					bytes + " B, " + (keys(factory) - keysBefore) + " keys in all", "target 0");
		}
		finally {
			factory.destroy();
		}
	}

	private static long keys(LettuceConnectionFactory factory) {
		try (RedisConnection connection = factory.getConnection()) {
			return connection.serverCommands().dbSize();
		}
	}

	private void redisLoad(EmbeddedRedis redis, URI owner, URI other, List<String> sessions, String mode)
			throws Exception {
		LettuceConnectionFactory factory = redis.connectionFactory();
		try {
			// By now the benchmark has run for minutes: the first request of each session refreshes its entry's expiry
			// (at most once per refresh interval) and the forwarder reloads its expired L1 entries. Those, counted apart,
			// are the periodic cost; the 1,000 requests after them are the L1-hit path the target is about.
			long before = commands(factory);
			for (String session : sessions) {
				RawMcp.post(owner, session, SESSION_INFO);
				RawMcp.post(other, session, SESSION_INFO);
			}
			long settling = commands(factory) - before;
			before = commands(factory);
			for (int i = 0; i < 1_000; i++) {
				RawMcp.post(owner, sessions.get(i % sessions.size()), SESSION_INFO);
			}
			long local = commands(factory) - before;
			before = commands(factory);
			for (int i = 0; i < 1_000; i++) {
				RawMcp.post(other, sessions.get(i % sessions.size()), SESSION_INFO);
			}
			long forwarded = commands(factory) - before;
			row("6 Redis load", mode + ": commands per 1,000 requests, local path", Long.toString(local),
					"target 0; the first request of each session, local and forwarded, before them: " + settling
							+ " commands (expiry refreshes, L1 reloads), all instances' heartbeats included");
			row("6 Redis load", mode + ": commands per 1,000 requests, forwarded path", Long.toString(forwarded),
					"target 0 (store: L1 on both sides)");
		}
		finally {
			factory.destroy();
		}
	}

	private static long commands(LettuceConnectionFactory factory) {
		try (RedisConnection connection = factory.getConnection()) {
			Properties stats = connection.serverCommands().info("commandstats");
			long total = 0;
			for (String name : stats.stringPropertyNames()) {
				if (name.startsWith("cmdstat_") && !name.equals("cmdstat_info")) {
					String value = stats.getProperty(name);
					int start = value.indexOf("calls=") + 6;
					total += Long.parseLong(value.substring(start, value.indexOf(',', start)));
				}
			}
			return total;
		}
	}

	private static long usedRedisMemory(LettuceConnectionFactory factory) {
		try (RedisConnection connection = factory.getConnection()) {
			return Long.parseLong(connection.serverCommands().info("memory").getProperty("used_memory"));
		}
	}

	private static String redisVersion(LettuceConnectionFactory factory) {
		try (RedisConnection connection = factory.getConnection()) {
			return connection.serverCommands().info("server").getProperty("redis_version");
		}
	}

	private static long usedHeap() {
		for (int i = 0; i < 3; i++) {
			System.gc();
			try {
				TimeUnit.MILLISECONDS.sleep(200);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
			}
		}
		return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
	}

	// The median over the rounds of the p50 difference inside each round (see paired).
	private static String addedP50(List<Load> hop, List<Load> direct) {
		long[] added = new long[hop.size()];
		for (int i = 0; i < added.length; i++) {
			added[i] = hop.get(i).p50() - direct.get(i).p50();
		}
		Arrays.sort(added);
		return String.format(Locale.ROOT, "%.2f ms (rounds %.2f-%.2f)", added[added.length / 2] / 1e6, added[0] / 1e6,
				added[added.length - 1] / 1e6);
	}

	/**
	 * A ratio taken inside each round, the median of the rounds. The runs of one round are seconds apart, so the
	 * machine's drift (on a noisy day whole rounds ran a third slower than others) cancels out of each ratio rather
	 * than deciding which way a verdict falls, as it did when the two sides' medians came from different rounds.
	 */
	private static String paired(List<Load> measured, ToDoubleFunction<Load> value, List<Load> against,
			ToDoubleFunction<Load> base) {
		double[] ratios = new double[measured.size()];
		for (int i = 0; i < ratios.length; i++) {
			ratios[i] = value.applyAsDouble(measured.get(i)) / base.applyAsDouble(against.get(i));
		}
		Arrays.sort(ratios);
		// The rounds' spread beside the median: how far the verdict is from falling the other way.
		return String.format(Locale.ROOT, "%.3fx (rounds %.2f-%.2fx)", ratios[ratios.length / 2], ratios[0],
				ratios[ratios.length - 1]);
	}

	private static String ratio(double a, double b) {
		return String.format(Locale.ROOT, "%.3fx", a / b);
	}

	private void row(String group, String measure, String ratio, String figures) {
		this.table.append("| ").append(group).append(" | ").append(measure).append(" | ").append(ratio).append(" | ")
			.append(figures).append(" |\n");
		if (group.equals("group")) {
			this.table.append("|---|---|---|---|\n");
		}
	}

	private record Load(double throughput, long p50, long p99, Map<URI, Double> cpuPerRequest, long errors) {

		/** CPU nanoseconds an instance spent per request of this load. */
		double cpu(URI instance) {
			return this.cpuPerRequest.getOrDefault(instance, Double.NaN);
		}

		@Override
		public String toString() {
			return String.format(Locale.ROOT, "%.0f req/s, p50 %.2f ms, p99 %.2f ms", this.throughput, this.p50 / 1e6,
					this.p99 / 1e6) + ((this.errors > 0) ? ", " + this.errors + " errors" : "");
		}

	}

	/** An L2 that answers every claim at once, to fill L1 with a million local sessions without Redis. */
	private static final class InstantStore implements io.mcp.affinity.core.OwnershipStore {

		@Override
		public reactor.core.publisher.Mono<String> claim(SessionId sessionId, String ownerEpoch) {
			return reactor.core.publisher.Mono.just(ownerEpoch);
		}

		@Override
		public reactor.core.publisher.Mono<String> findOwner(SessionId sessionId) {
			return reactor.core.publisher.Mono.empty();
		}

		@Override
		public reactor.core.publisher.Mono<Void> refresh(SessionId sessionId, String ownerEpoch) {
			return reactor.core.publisher.Mono.empty();
		}

		@Override
		public reactor.core.publisher.Mono<Boolean> release(SessionId sessionId, String ownerEpoch) {
			return reactor.core.publisher.Mono.just(true);
		}

	}

}
