# The test-server scripts on a machine that lacks a server: a newcomer's first build.ps1 Test
# must name the missing program and the Debian package that provides it.
Describe 'Starting the test servers on a machine without them' {
    BeforeAll {
        $script:servers = Join-Path $PSScriptRoot '../servers'
    }

    It 'names <Program> and its package <Package> when it is not installed' -ForEach @(
        @{ Script = 'redis.server.ps1'; Program = 'redis-server'; Package = 'redis-server' }
        @{ Script = 'etcd.server.ps1'; Program = 'etcd'; Package = 'etcd-server' }
    ) {
        $state = Join-Path ([IO.Path]::GetTempPath()) ([guid]::NewGuid())
        $emptyPath = Join-Path $state 'bin'
        New-Item -ItemType Directory $emptyPath -Force | Out-Null
        $path = $env:PATH
        try {
            # As build.ps1 runs them: under strict mode; here with a PATH that lacks the server.
            $env:PATH = $emptyPath
            $start = { Set-StrictMode -Version Latest; & (Join-Path $servers $Script) -Action Start -StateDir $state }
            $start | Should -Throw -ExpectedMessage "*$Program is not installed (Debian package $Package;*"
        }
        finally {
            $env:PATH = $path
            Remove-Item $state -Recurse -Force -ErrorAction SilentlyContinue
        }
    }
}
