// The FieldVault AAR: generated uniffi Kotlin + the idiomatic layer + JNA +
// libfieldvault_ffi.so for arm64-v8a, armeabi-v7a and x86_64 (16 KB pages).
// scripts/build-android fills build/generated/{uniffi,jniLibs} before Gradle runs.
plugins {
    id("com.android.library")
    id("org.jetbrains.kotlin.android")
}

android {
    namespace = "jp.fieldvault"
    compileSdk = 35
    ndkVersion = "28.0.13004108"

    defaultConfig {
        minSdk = 26
        consumerProguardFiles("consumer-rules.pro")
        ndk { abiFilters += listOf("arm64-v8a", "armeabi-v7a", "x86_64") }
    }
    sourceSets["main"].apply {
        java.srcDir(layout.buildDirectory.dir("generated/uniffi"))
        jniLibs.srcDir(layout.buildDirectory.dir("generated/jniLibs"))
    }
    packaging {
        // Keep the .so files uncompressed and page-aligned in the APK.
        jniLibs.useLegacyPackaging = false
    }
    buildTypes {
        release { isMinifyEnabled = false }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    kotlinOptions { jvmTarget = "17" }
}

dependencies {
    // uniffi's Kotlin calls into the library through JNA; the @aar carries libjnidispatch.so.
    // 5.17.0 at least: earlier AARs' libjnidispatch.so crash on 16 KB-page devices (JNA
    // #1618: alignment, fixed in 5.16.0; #1647: 5.16.0 still crashed, fixed in 5.17.0).
    // The AAR does not bundle it: the app's APK gets it from this dependency, which is why
    // scripts/build-android must check the APK's .so files, not only ours.
    api("net.java.dev.jna:jna:5.17.0@aar")
    api("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.9.0")
    implementation("androidx.work:work-runtime-ktx:2.10.0")
    implementation("androidx.core:core-ktx:1.15.0")
}
