package io.mcp.affinity.sample;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

import io.mcp.affinity.autoconfigure.InstanceHeartbeatLifecycle;
import io.mcp.affinity.core.test.OwnerCertificate;
import io.mcp.affinity.core.test.TestRedis;
import io.mcp.affinity.sample.cluster.RoundRobinFrontDoor;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import reactor.netty.http.Http11SslContextSpec;
import reactor.netty.http.client.HttpClient;

/**
 * Several sample instances in this JVM, each a full Spring Boot application on its own loopback port, sharing one
 * real Redis, behind a {@link RoundRobinFrontDoor}.
 */
final class InProcessCluster implements AutoCloseable {

	private final List<ConfigurableApplicationContext> instances = new ArrayList<>();

	private final List<URI> addresses = new ArrayList<>();

	private final RoundRobinFrontDoor frontDoor;

	InProcessCluster(int size, String... extraProperties) {
		this(size, TestRedis.shared().host(), TestRedis.shared().port(), extraProperties);
	}

	InProcessCluster(int size, String redisHost, int redisPort, String... extraProperties) {
		this(size, List.of("--spring.data.redis.host=" + redisHost, "--spring.data.redis.port=" + redisPort),
				extraProperties);
	}

	/**
	 * Starts instances that reach Redis as the given arguments say: a Redis Cluster or Sentinel set-up, say.
	 * @param size how many instances
	 * @param redisArguments the {@code spring.data.redis.*} arguments
	 * @param extraProperties more arguments for every instance
	 */
	InProcessCluster(int size, List<String> redisArguments, String... extraProperties) {
		this(size, redisArguments, (index) -> List.of(extraProperties));
	}

	/**
	 * Starts instances that differ: some on each web stack, say.
	 * @param size how many instances
	 * @param redisArguments the {@code spring.data.redis.*} arguments
	 * @param instanceArguments more arguments for the instance of each index
	 */
	InProcessCluster(int size, List<String> redisArguments, IntFunction<List<String>> instanceArguments) {
		this(size, redisArguments, instanceArguments, null);
	}

	/**
	 * Starts instances that serve https with a certificate for 127.0.0.1 (and register https addresses), forward to
	 * each other through an SSL bundle that trusts it, and sit behind a front door that trusts it too.
	 * @param size how many instances
	 * @param redisArguments the {@code spring.data.redis.*} arguments
	 * @param instanceArguments more arguments for the instance of each index
	 * @param certificate the instances' certificate, or {@code null} for http
	 */
	InProcessCluster(int size, List<String> redisArguments, IntFunction<List<String>> instanceArguments,
			@Nullable OwnerCertificate certificate) {
		String keyPrefix = TestRedis.uniquePrefix();
		for (int i = 0; i < size; i++) {
			int port = TestRedis.freePort();
			URI address = URI.create(((certificate != null) ? "https" : "http") + "://127.0.0.1:" + port);
			List<String> args = new ArrayList<>(List.of("--server.port=" + port, "--server.address=127.0.0.1",
					"--mcp.affinity.local-server-address=" + address, "--mcp.affinity.redis.key-prefix=" + keyPrefix,
					// Faster death detection than production's 15 s, for the tests that stop an instance and wait
					// for the others to notice; no request passes here that would fail with the defaults (ColdBurstIT
					// runs those).
					"--mcp.affinity.heartbeat.interval=500ms", "--mcp.affinity.heartbeat.time-to-live=3s",
					"--mcp.affinity.heartbeat.liveness-cache-time=500ms", "--spring.main.banner-mode=off",
					"--spring.ai.mcp.server.streamable-http.keep-alive-interval=1s",
					"--mcp.affinity.forwarding.secret=in-process-cluster-secret",
					"--spring.lifecycle.timeout-per-shutdown-phase=2s"));
			args.addAll(redisArguments);
			if (certificate != null) {
				args.addAll(List.of("--server.ssl.bundle=instance",
						"--spring.ssl.bundle.jks.instance.keystore.location=file:" + certificate.keyStore(),
						"--spring.ssl.bundle.jks.instance.keystore.password=" + OwnerCertificate.PASSWORD,
						"--spring.ssl.bundle.jks.instance.keystore.type=PKCS12",
						"--spring.ssl.bundle.pem.instances.truststore.certificate=file:" + certificate.certificate(),
						"--mcp.affinity.forwarding.ssl-bundle=instances"));
			}
			args.addAll(instanceArguments.apply(i));
			this.instances.add(new SpringApplicationBuilder(SampleApplication.class).run(args.toArray(String[]::new)));
			this.addresses.add(address);
		}
		this.frontDoor = (certificate != null)
				? new RoundRobinFrontDoor(0, this.addresses, HttpClient.create()
					.secure((tls) -> tls.sslContext(Http11SslContextSpec.forClient()
						.configure((builder) -> builder.trustManager(certificate.certificate().toFile())))))
				: new RoundRobinFrontDoor(0, this.addresses);
	}

	ConfigurableApplicationContext instance(int index) {
		return this.instances.get(index);
	}

	URI frontDoor() {
		return this.frontDoor.address();
	}

	RoundRobinFrontDoor frontDoorRecord() {
		return this.frontDoor;
	}

	/**
	 * Where the front door sent the POSTs that carry a session's answers to server requests (sampling, elicitation,
	 * pings), as {@link McpClients} marks them.
	 * @param session the session id
	 * @return the instances' indexes, in order
	 */
	List<Integer> answersRoutedTo(String session) {
		return this.frontDoor.routed()
			.stream()
			.filter((routed) -> session.equals(routed.headers().get("Mcp-Session-Id"))
					&& routed.headers().contains(McpClients.ANSWER_MARKER))
			.map(RoundRobinFrontDoor.Routed::instance)
			.toList();
	}

	List<URI> addresses() {
		return List.copyOf(this.addresses);
	}

	int indexOf(String address) {
		return this.addresses.indexOf(URI.create(address));
	}

	/**
	 * Stops an instance's web server at once: its port refuses connections, and nothing is deregistered (its
	 * heartbeat even goes on, like a hung process). The front door stops sending it requests, as a health check would.
	 */
	void killWebServer(int index) {
		((WebServerApplicationContext) this.instances.get(index)).getWebServer().stop();
		this.frontDoor.exclude(index);
	}

	/**
	 * Runs an instance's shutdown sequence: its web server stops, then mcp-affinity's lifecycle releases what it owns
	 * and deregisters, as on context close. (Closing the whole context here would also dispose the Reactor Netty
	 * resources that all instances of this JVM share.)
	 */
	void stopGracefully(int index) {
		this.frontDoor.exclude(index);
		ConfigurableApplicationContext instance = this.instances.get(index);
		((WebServerApplicationContext) instance).getWebServer().stop();
		instance.getBean(InstanceHeartbeatLifecycle.class).stop();
	}

	@Override
	public void close() {
		this.frontDoor.close();
		this.instances.forEach(ConfigurableApplicationContext::close);
	}

}
