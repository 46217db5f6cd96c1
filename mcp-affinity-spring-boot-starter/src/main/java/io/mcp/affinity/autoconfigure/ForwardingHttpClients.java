package io.mcp.affinity.autoconfigure;

import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.web.server.autoconfigure.ServerProperties;
import org.springframework.cloud.gateway.config.HttpClientCustomizer;
import org.springframework.cloud.gateway.config.HttpClientFactory;
import org.springframework.cloud.gateway.config.HttpClientProperties;
import org.springframework.cloud.gateway.config.HttpClientSslConfigurer;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;

/**
 * The WebFlux forwarder's clients to the owners, built by Spring Cloud Gateway's {@link HttpClientFactory} from its
 * {@code httpclient} properties (pool, SSL, proxy, wiretap, customizers): each one with a connection pool of its own,
 * as the forwarder keeps one client per event loop. The pools are closed when the application stops.
 */
final class ForwardingHttpClients implements Supplier<HttpClient>, DisposableBean {

	private final Factory factory;

	ForwardingHttpClients(HttpClientProperties properties, ServerProperties server, SslBundles sslBundles,
			List<HttpClientCustomizer> customizers) {
		HttpClientSslConfigurer ssl = new HttpClientSslConfigurer(properties.getSsl(), server, sslBundles) {
		};
		this.factory = new Factory(properties, server, ssl, customizers);
	}

	@Override
	public HttpClient get() {
		return this.factory.newClient();
	}

	@Override
	public void destroy() {
		for (ConnectionProvider pool : this.factory.pools) {
			pool.dispose();
		}
	}

	/** The gateway's factory, keeping each pool it builds. */
	private static final class Factory extends HttpClientFactory {

		private final Queue<ConnectionProvider> pools = new ConcurrentLinkedQueue<>();

		Factory(HttpClientProperties properties, ServerProperties server, HttpClientSslConfigurer ssl,
				List<HttpClientCustomizer> customizers) {
			super(properties, server, ssl, customizers);
		}

		HttpClient newClient() {
			return createInstance();
		}

		@Override
		protected ConnectionProvider buildConnectionProvider(HttpClientProperties properties) {
			ConnectionProvider pool = super.buildConnectionProvider(properties);
			this.pools.add(pool);
			return pool;
		}

	}

}
