package io.mcp.affinity.autoconfigure;

import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Supplier;

import javax.net.ssl.SSLException;

import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundles;
import org.springframework.boot.ssl.SslManagerBundle;
import org.springframework.boot.ssl.SslOptions;
import org.springframework.boot.web.server.autoconfigure.ServerProperties;
import org.springframework.cloud.gateway.config.HttpClientCustomizer;
import org.springframework.cloud.gateway.config.HttpClientFactory;
import org.springframework.cloud.gateway.config.HttpClientProperties;
import org.springframework.cloud.gateway.config.HttpClientSslConfigurer;
import reactor.netty.http.Http11SslContextSpec;
import reactor.netty.http.Http2SslContextSpec;
import reactor.netty.http.client.HttpClient;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.tcp.SslProvider;

/**
 * The WebFlux forwarder's clients to the owners, built by Spring Cloud Gateway's {@link HttpClientFactory} from its
 * {@code httpclient} properties (pool, SSL unless {@code mcp.affinity.forwarding.ssl-bundle} names a bundle, proxy,
 * wiretap, customizers): each one with a connection pool of its own, as the forwarder keeps one client per event loop.
 * The pools are closed when the application stops.
 */
final class ForwardingHttpClients implements Supplier<HttpClient>, DisposableBean {

	private final Factory factory;

	/**
	 * The clients, built as the gateway builds its own.
	 * @param properties the gateway's {@code httpclient} properties
	 * @param server the server's properties (HTTP/2 or not)
	 * @param sslBundles the application's SSL bundles
	 * @param forwardingTls the TLS from the bundle {@code mcp.affinity.forwarding.ssl-bundle} names
	 * ({@link #sslContext}), in place of the gateway's SSL settings, or {@code null}
	 * @param customizers the gateway's client customizers
	 */
	ForwardingHttpClients(HttpClientProperties properties, ServerProperties server, SslBundles sslBundles,
			@Nullable ForwardingTls<SslContext> forwardingTls, List<HttpClientCustomizer> customizers) {
		HttpClientSslConfigurer ssl = (forwardingTls != null)
				? new BundleSslConfigurer(properties.getSsl(), server, sslBundles, forwardingTls)
				: new HttpClientSslConfigurer(properties.getSsl(), server, sslBundles) {
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

	/**
	 * A client context from a version of the forwarding bundle: its trust and key material, protocols and ciphers,
	 * for HTTP/2 or HTTP/1.1 as the gateway's clients speak.
	 * @param bundle the bundle
	 * @param server the server's properties (HTTP/2 or not)
	 * @return the context
	 */
	static SslContext sslContext(SslBundle bundle, ServerProperties server) {
		SslProvider.GenericSslContextSpec<SslContextBuilder> context = server.getHttp2().isEnabled()
				? Http2SslContextSpec.forClient() : Http11SslContextSpec.forClient();
		context.configure((builder) -> {
			SslManagerBundle managers = bundle.getManagers();
			builder.trustManager(managers.getTrustManagerFactory()).keyManager(managers.getKeyManagerFactory());
			SslOptions options = bundle.getOptions();
			if (options.getEnabledProtocols() != null) {
				builder.protocols(options.getEnabledProtocols());
			}
			if (options.getCiphers() != null) {
				builder.ciphers(SslOptions.asSet(options.getCiphers()));
			}
		});
		try {
			return context.sslContext();
		}
		catch (SSLException ex) {
			throw new IllegalStateException("Cannot make a TLS client context from the SSL bundle: " + ex.getMessage(),
					ex);
		}
	}

	/**
	 * TLS from the forwarding bundle alone (its current version at each new connection), with the gateway's
	 * handshake and close-notify timeouts. The gateway's own configurer takes only a bundle's managers, and lets its
	 * trusted certificates or its insecure trust manager, when set, win over the bundle's trust.
	 */
	private static final class BundleSslConfigurer extends HttpClientSslConfigurer {

		private final SslContext context;

		BundleSslConfigurer(HttpClientProperties.Ssl properties, ServerProperties server, SslBundles sslBundles,
				ForwardingTls<SslContext> tls) {
			super(properties, server, sslBundles);
			this.context = new FollowingSslContext(tls);
		}

		@Override
		public HttpClient configureSsl(HttpClient client) {
			HttpClientProperties.Ssl properties = getSslProperties();
			return client.secure((tls) -> tls.sslContext(this.context)
				.handshakeTimeout(properties.getHandshakeTimeout())
				.closeNotifyFlushTimeout(properties.getCloseNotifyFlushTimeout())
				.closeNotifyReadTimeout(properties.getCloseNotifyReadTimeout()));
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
