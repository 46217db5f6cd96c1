package io.mcp.affinity.sample;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import io.mcp.affinity.core.test.TestRedis.EmbeddedRedis;
import io.mcp.affinity.sample.McpClients.Client;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A cold cluster under a burst, as a new deployment meets it: three instances as separate JVMs started together with
 * the production defaults, no warm-up, then 48 MCP clients (the MCP Java SDK's) initializing at the same moment through
 * a round-robin front door with no stickiness, each then making calls that check its own state. Once with Redis as it
 * is, once with every Redis packet held 150 ms each way, once with Redis paused for 3 s in the middle of the calls.
 * Target in every case: no error a client sees, no request served by an instance other than its session's owner.
 * The figures are printed at the end of each run and recorded in docs/reliability.md.
 */
class ColdBurstIT {

	private static final int CLIENTS = 48;

	// Per client: remember + recall + session_info, four times.
	private static final int ROUNDS = 4;

	private final List<String> errors = new CopyOnWriteArrayList<>();

	private final AtomicLong calls = new AtomicLong();

	private final AtomicLong misroutes = new AtomicLong();

	private final List<Long> callNanos = Collections.synchronizedList(new ArrayList<>());

	private final ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);

	@AfterEach
	void stopPool() {
		this.pool.shutdownNow();
	}

	/**
	 * What every instance is started with besides the defaults: its ownership mode and web stack (none here: store
	 * ownership on WebFlux). A subclass runs the scenarios with others.
	 * @return arguments for every instance
	 */
	protected List<String> instanceArguments() {
		return List.of();
	}

	@Test
	void aColdClusterServesABurstOfClientsWithoutAnError() throws Exception {
		try (ProcessCluster cluster = new ProcessCluster(3, instanceArguments(), ProcessCluster::standalone)) {
			List<Tracked> clients = burstOfClients(cluster);
			runCalls(clients, ROUNDS);
			report("cold start, Redis as is", clients, ROUNDS);
		}
	}

	@Test
	void aRedisDelayedOneHundredFiftyMillisecondsEachWayIsSlowNotDown() throws Exception {
		List<DelayingTcpProxy> proxies = new ArrayList<>();
		Function<EmbeddedRedis, List<String>> delayed = (redis) -> {
			DelayingTcpProxy proxy = DelayingTcpProxy.start(redis.port(), Duration.ofMillis(150));
			proxies.add(proxy);
			return ProcessCluster.standalone(proxy.port());
		};
		try (ProcessCluster cluster = new ProcessCluster(3, instanceArguments(), delayed)) {
			List<Tracked> clients = burstOfClients(cluster);
			runCalls(clients, ROUNDS);
			report("cold start, every Redis packet delayed 150 ms each way", clients, ROUNDS);
		}
		finally {
			for (DelayingTcpProxy proxy : proxies) {
				proxy.close();
			}
		}
	}

	@Test
	void existingSessionsRideOutARedisPausedForThreeSeconds() throws Exception {
		try (ProcessCluster cluster = new ProcessCluster(3, instanceArguments(), ProcessCluster::standalone)) {
			List<Tracked> clients = burstOfClients(cluster);
			runCalls(clients, 1);
			int rounds = 1;
			assertThat(this.errors).as("errors before the pause").isEmpty();
			long pausedAt = System.nanoTime();
			clientPause(cluster.redis.port(), Duration.ofSeconds(3));
			// Every client keeps calling until the pause is well over: as many rounds as the machine's speed fits.
			while (System.nanoTime() - pausedAt < Duration.ofSeconds(5).toNanos()) {
				runCalls(clients, 1);
				rounds++;
			}
			report("cold start, Redis paused 3 s (CLIENT PAUSE) mid-run", clients, rounds);
		}
	}

	// All clients initialize at the same moment, through the front door, as soon as the instances answer.
	private List<Tracked> burstOfClients(ProcessCluster cluster) throws Exception {
		CountDownLatch start = new CountDownLatch(1);
		List<CompletableFuture<Tracked>> connecting = new ArrayList<>();
		for (int i = 0; i < CLIENTS; i++) {
			int number = i;
			connecting.add(CompletableFuture.supplyAsync(() -> {
				await(start);
				try {
					Client client = McpClients.streamable(cluster.frontDoor());
					return new Tracked(number, client);
				}
				catch (RuntimeException ex) {
					this.errors.add("client " + number + " could not connect: " + ex);
					return null;
				}
			}, this.pool));
		}
		start.countDown();
		List<Tracked> clients = new ArrayList<>();
		for (CompletableFuture<Tracked> future : connecting) {
			Tracked tracked = future.get(2, TimeUnit.MINUTES);
			if (tracked != null) {
				clients.add(tracked);
			}
		}
		return clients;
	}

	// Every client, concurrently, makes `rounds` rounds of calls that check its own state.
	private void runCalls(List<Tracked> clients, int rounds) throws Exception {
		List<CompletableFuture<Void>> running = new ArrayList<>();
		for (Tracked tracked : clients) {
			running.add(CompletableFuture.runAsync(() -> {
				for (int round = 0; round < rounds; round++) {
					tracked.round();
				}
			}, this.pool));
		}
		CompletableFuture.allOf(running.toArray(CompletableFuture[]::new)).get(5, TimeUnit.MINUTES);
	}

	// Every client made every call of every round, and each one succeeded (a call is counted once it has answered).
	private void report(String scenario, List<Tracked> clients, int rounds) {
		List<Long> sorted = new ArrayList<>(this.callNanos);
		Collections.sort(sorted);
		System.out.println();
		System.out.println("Cold burst: " + scenario + (instanceArguments().isEmpty() ? "" : " " + instanceArguments()));
		System.out.println("  clients connected:  " + clients.size() + " of " + CLIENTS);
		System.out.println("  tool calls:         " + this.calls.get());
		System.out.println("  errors:             " + this.errors.size());
		System.out.println("  misroutes:          " + this.misroutes.get());
		if (!sorted.isEmpty()) {
			System.out.println("  call latency p50:   " + millis(sorted.get(sorted.size() / 2)) + " ms, p99: "
					+ millis(sorted.get(sorted.size() * 99 / 100)) + " ms, max: " + millis(sorted.get(sorted.size() - 1))
					+ " ms");
		}
		this.errors.stream().limit(20).forEach((error) -> System.out.println("  ERROR " + error));
		clients.forEach((tracked) -> tracked.client.close());
		assertThat(this.errors).isEmpty();
		assertThat(this.misroutes.get()).isZero();
		assertThat(clients).hasSize(CLIENTS);
		assertThat(this.calls.get()).isEqualTo((long) CLIENTS * 3 * rounds);
	}

	private static long millis(long nanos) {
		return TimeUnit.NANOSECONDS.toMillis(nanos);
	}

	// CLIENT PAUSE on a connection of its own: Redis answers no client until the time is over.
	private static void clientPause(int port, Duration duration) throws IOException {
		try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
			String millis = Long.toString(duration.toMillis());
			String command = "*3\r\n$6\r\nCLIENT\r\n$5\r\nPAUSE\r\n$" + millis.length() + "\r\n" + millis + "\r\n";
			OutputStream out = socket.getOutputStream();
			out.write(command.getBytes(StandardCharsets.US_ASCII));
			out.flush();
			InputStream in = socket.getInputStream();
			byte[] reply = new byte[5];
			assertThat(in.readNBytes(reply, 0, 5)).isEqualTo(5);
			assertThat(new String(reply, StandardCharsets.US_ASCII)).isEqualTo("+OK\r\n");
		}
	}

	private static void await(CountDownLatch latch) {
		try {
			latch.await();
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	/** One client and what it expects of its session. */
	private final class Tracked {

		final int number;

		final Client client;

		final String session;

		String instance;

		long toolCalls;

		int values;

		Tracked(int number, Client client) {
			this.number = number;
			this.client = client;
			this.session = client.sessionId.get();
		}

		// remember, recall, session_info: the value comes back, and the same instance, with every call counted, serves.
		void round() {
			String key = "k" + this.values;
			String value = this.session + "/" + key;
			try {
				call("remember", Map.of("key", key, "value", value));
				String recalled = call("recall", Map.of("key", key));
				if (!value.equals(recalled)) {
					ColdBurstIT.this.misroutes.incrementAndGet();
					ColdBurstIT.this.errors.add("client " + this.number + " recalled " + recalled + ", not " + value);
				}
				this.values++;
				String info = call("session_info", Map.of());
				String servedBy = info.substring(info.indexOf("\"instance\":\"") + 12, info.indexOf("\",\"calls\""));
				long counted = Long.parseLong(info.substring(info.indexOf("\"calls\":") + 8, info.indexOf('}')));
				if (this.instance == null) {
					this.instance = servedBy;
				}
				if (!servedBy.equals(this.instance) || counted != this.toolCalls) {
					ColdBurstIT.this.misroutes.incrementAndGet();
					ColdBurstIT.this.errors.add("client " + this.number + " served by " + servedBy + " with " + counted
							+ " calls counted; expected " + this.instance + " with " + this.toolCalls);
				}
				if (!this.session.equals(this.client.sessionId.get())) {
					ColdBurstIT.this.errors.add("client " + this.number + " lost its session");
				}
			}
			catch (RuntimeException ex) {
				ColdBurstIT.this.errors.add("client " + this.number + ": " + ex);
			}
		}

		private String call(String tool, Map<String, Object> arguments) {
			long start = System.nanoTime();
			this.toolCalls++;
			String result = this.client.call(tool, arguments);
			ColdBurstIT.this.callNanos.add(System.nanoTime() - start);
			ColdBurstIT.this.calls.incrementAndGet();
			return result;
		}

	}

}
