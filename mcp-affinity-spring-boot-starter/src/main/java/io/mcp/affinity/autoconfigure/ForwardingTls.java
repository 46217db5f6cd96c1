package io.mcp.affinity.autoconfigure;

import java.util.function.Function;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.ssl.SslBundle;
import org.springframework.boot.ssl.SslBundles;

/**
 * What the forwarder secures new connections to https owners with (an Apache TLS strategy, a Netty
 * {@code SslContext}), made from the SSL bundle {@code mcp.affinity.forwarding.ssl-bundle} names, and made again each
 * time Spring Boot updates that bundle: a bundle with {@code reload-on-update} whose files changed, as a renewed
 * client certificate or a new certificate authority. New connections take the update with no restart; connections
 * already open keep the TLS session they made. An update that cannot be used leaves the previous version in place.
 *
 * @param <T> what is made from the bundle
 */
final class ForwardingTls<T> implements Supplier<T> {

	private static final Logger logger = LoggerFactory.getLogger(ForwardingTls.class);

	private final String bundleName;

	private final Function<SslBundle, T> make;

	private volatile T current;

	private ForwardingTls(String bundleName, SslBundle bundle, Function<SslBundle, T> make) {
		this.bundleName = bundleName;
		this.make = make;
		this.current = make.apply(bundle);
	}

	/**
	 * Makes the forwarder's TLS from a bundle and follows the bundle's updates.
	 * @param <T> what is made from the bundle
	 * @param bundles the application's bundles
	 * @param bundleName the bundle's name
	 * @param bundle the bundle as it is now
	 * @param make makes the TLS from a version of the bundle (at start-up, where a failure fails start-up, and at each
	 * update)
	 * @return the TLS, following the bundle
	 */
	static <T> ForwardingTls<T> follow(SslBundles bundles, String bundleName, SslBundle bundle,
			Function<SslBundle, T> make) {
		ForwardingTls<T> tls = new ForwardingTls<>(bundleName, bundle, make);
		bundles.addBundleUpdateHandler(bundleName, tls::update);
		return tls;
	}

	@Override
	public T get() {
		return this.current;
	}

	private void update(SslBundle bundle) {
		try {
			this.current = this.make.apply(bundle);
			logger.info("ForwardingSslBundleUpdated bundle={}: new connections to https owners use it",
					this.bundleName);
		}
		catch (RuntimeException ex) {
			logger.warn("ForwardingSslBundleUpdateFailed bundle={} ({}): new connections to https owners keep using "
					+ "its previous content", this.bundleName, ex.toString(), ex);
		}
	}

}
