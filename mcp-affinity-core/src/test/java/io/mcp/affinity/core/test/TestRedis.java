package io.mcp.affinity.core.test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.util.UUID;

import org.springframework.data.redis.connection.RedisStandaloneConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceClientConfiguration;
import org.springframework.data.redis.connection.lettuce.LettuceConnectionFactory;
import org.springframework.data.redis.core.ReactiveStringRedisTemplate;
import redis.embedded.RedisServer;

/**
 * The real Redis the tests run against, found in this order: the URL in {@value #ENVIRONMENT_VARIABLE} (CI starts
 * one), a container when a Docker engine answers, else the redis-server binary shipped in the embedded-redis jar.
 * So the tests pass on a fresh machine with neither Redis nor Docker installed.
 */
public final class TestRedis {

	/** Environment variable with a {@code redis://host:port} URL of a Redis the tests may use. */
	public static final String ENVIRONMENT_VARIABLE = "MCP_AFFINITY_TEST_REDIS";

	private static TestRedis shared;

	private final String host;

	private final int port;

	private final String source;

	private TestRedis(String host, int port, String source) {
		this.host = host;
		this.port = port;
		this.source = source;
	}

	/**
	 * The Redis shared by all tests of this JVM, started on first use.
	 * @return the Redis
	 */
	public static synchronized TestRedis shared() {
		if (shared == null) {
			shared = locate();
			System.out.println("Test Redis: " + shared.source + " at " + shared.host + ":" + shared.port);
		}
		return shared;
	}

	private static TestRedis locate() {
		String url = System.getenv(ENVIRONMENT_VARIABLE);
		if (url != null && !url.isBlank()) {
			URI uri = URI.create(url.trim());
			return new TestRedis(uri.getHost(), (uri.getPort() > 0) ? uri.getPort() : 6379, ENVIRONMENT_VARIABLE);
		}
		TestRedis container = ContainerRedis.startIfDockerAnswers();
		if (container != null) {
			return container;
		}
		EmbeddedRedis embedded = EmbeddedRedis.start();
		Runtime.getRuntime().addShutdownHook(new Thread(embedded::stop));
		return new TestRedis("127.0.0.1", embedded.port(), "embedded redis-server");
	}

	static TestRedis of(String host, int port, String source) {
		return new TestRedis(host, port, source);
	}

	public String host() {
		return this.host;
	}

	public int port() {
		return this.port;
	}

	/** A {@code redis://} URL of this Redis. */
	public String url() {
		return "redis://" + this.host + ":" + this.port;
	}

	/**
	 * A started connection factory to this Redis; the caller destroys it.
	 * @return the factory
	 */
	public LettuceConnectionFactory connectionFactory() {
		return connectionFactory(this.host, this.port);
	}

	static LettuceConnectionFactory connectionFactory(String host, int port) {
		LettuceConnectionFactory factory = new LettuceConnectionFactory(new RedisStandaloneConfiguration(host, port),
				LettuceClientConfiguration.defaultConfiguration());
		factory.afterPropertiesSet();
		factory.start();
		return factory;
	}

	/**
	 * A key prefix no other test uses, so tests share one Redis without flushing it.
	 * @return the prefix
	 */
	public static String uniquePrefix() {
		return "test-" + UUID.randomUUID().toString().substring(0, 8) + ":";
	}

	/**
	 * A template over a factory.
	 * @param factory the factory
	 * @return the template
	 */
	public static ReactiveStringRedisTemplate template(LettuceConnectionFactory factory) {
		return new ReactiveStringRedisTemplate(factory);
	}

	/** A free TCP port on loopback. */
	public static int freePort() {
		try (ServerSocket socket = new ServerSocket(0)) {
			socket.setReuseAddress(true);
			return socket.getLocalPort();
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/**
	 * Whether a TCP port on loopback is free now.
	 * @param port the port
	 * @return whether it could be bound
	 */
	public static boolean isFree(int port) {
		try (ServerSocket socket = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
			return true;
		}
		catch (IOException ex) {
			return false;
		}
	}

	/**
	 * A redis-server process of the test's own, from the embedded-redis jar, bound to loopback: tests that stop and
	 * restart Redis use one of these, never the shared one.
	 */
	public static final class EmbeddedRedis {

		private final int port;

		private RedisServer server;

		private EmbeddedRedis(int port) {
			this.port = port;
		}

		/** Starts a server on a free port. */
		public static EmbeddedRedis start() {
			EmbeddedRedis redis = new EmbeddedRedis(freePort());
			redis.restart();
			return redis;
		}

		public int port() {
			return this.port;
		}

		/** (Re)starts the server on the same port, empty: no persistence. */
		public synchronized void restart() {
			try {
				this.server = RedisServer.newRedisServer()
					.port(this.port)
					.bind("127.0.0.1")
					.setting("save \"\"")
					.setting("appendonly no")
					.build();
				this.server.start();
			}
			catch (IOException ex) {
				throw new UncheckedIOException("Could not start the embedded redis-server", ex);
			}
		}

		/** Stops the server; connected clients see the connection drop. */
		public synchronized void stop() {
			try {
				if (this.server != null && this.server.isActive()) {
					this.server.stop();
				}
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
		}

		/** A started connection factory to this server; the caller destroys it. */
		public LettuceConnectionFactory connectionFactory() {
			return TestRedis.connectionFactory("127.0.0.1", this.port);
		}

	}

}
