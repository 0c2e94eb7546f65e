# How the module signs in to and secures its connections to the NB database servers: Redis ACL
# users, TLS, several etcd endpoints. Each test reaches the database the way an operator's
# -Database names it, and runs what writes (the lock, the backup, the journal, the commit).

BeforeAll {
    Import-Module "$PSScriptRoot/../../DragonflowUpgrade.psd1" -Force
    . "$PSScriptRoot/TestSupport.ps1"
    . "$PSScriptRoot/SecretSupport.ps1"
    $script:Index = 60
    if (-not $env:DF_TEST_REDIS_MODULE_USER) { throw 'DF_TEST_REDIS_MODULE_USER is not set: run the tests through build.ps1 Test, which starts redis-server.' }
    $script:ModuleUser = $env:DF_TEST_REDIS_MODULE_USER -replace '@[^@]*$', ''
    $script:ModulePassword = $script:ModuleUser -replace '^[^:]*:', ''
}

Describe 'A Redis ACL user' {
    BeforeEach {
        New-TestRedis $script:Index | Out-Null
        Add-RedisObjects $script:Index (New-Port 'p1' 't1'), (New-Port 'p2' 't2' 'network:dhcp')
        $folder = Join-Path $TestDrive ([guid]::NewGuid())
        New-MigrationFile $folder '1.ps1' 'flag' '2017-09-01T00:00:00Z' $FlagComputePorts | Out-Null
        Set-ShippedMigrationsApplied "redis://$($env:DF_TEST_REDIS)/$($script:Index)"
    }

    It 'runs a migration, lock, backup and journal included, as a user allowed only the commands the module sends' {
        $db = "redis://$($env:DF_TEST_REDIS_MODULE_USER)/$($script:Index)"
        $backup = Join-Path $TestDrive "acl-$([guid]::NewGuid()).jsonl.gz"
        Invoke-DfMigration -Database $db -MigrationPath $folder -BackupPath $backup -Confirm:$false -ErrorAction Stop | Out-Null
        (Get-DfMigration -Database $db -MigrationPath $folder -Pending) | Should -BeNullOrEmpty
        (Invoke-RedisCli $script:Index GET '{lport.t1}.p1' | ConvertFrom-Json).flag | Should -BeTrue
        Test-Path $backup | Should -BeTrue
        Get-DfUpgradeLock -Database $db | Should -BeNullOrEmpty
    }

    It 'refuses a wrong password with NbDatabaseUnavailable naming the server, never the password' {
        $wrong = "redis://df-module:$($script:ModulePassword)x@$($env:DF_TEST_REDIS)/$($script:Index)"
        $run = Invoke-Captured { Get-DfNbTable -Database $wrong }
        $run.Error.FullyQualifiedErrorId | Should -BeLike 'NbDatabaseUnavailable,*'
        $run.Error.Exception.Message | Should -BeLike "*redis://$($env:DF_TEST_REDIS)/$($script:Index)*WRONGPASS*"
        $run.Text | Should -Not -Match $script:ModulePassword
    }
}
