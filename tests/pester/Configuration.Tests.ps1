BeforeAll {
    Import-Module (Join-Path $PSScriptRoot '../../DragonflowUpgrade.psd1') -Force
    . (Join-Path $PSScriptRoot 'ConfigurationSupport.ps1')
    $cloud = New-ConfigurationCloud
    $ssh = $cloud.Ssh
    $next = New-RenamingManifest (Join-Path $TestDrive 'next.json')
    # Files compared byte for byte, as base64 text.
    function Get-Bytes([string] $Path) { [Convert]::ToBase64String([IO.File]::ReadAllBytes($Path)) }
    $pikeBytes = Get-Bytes $PikeIni
    # What -WhatIf and -Confirm show goes to the host: a transcript catches it.
    function Get-HostOutput([scriptblock] $Script) {
        $log = Join-Path $TestDrive "host-$([guid]::NewGuid().ToString('N')).txt"
        Start-Transcript -Path $log | Out-Null
        try { & $Script | Out-Null } finally { Stop-Transcript | Out-Null }
        Get-Content $log -Raw
    }
    function Get-NodeBackup { Get-ChildItem $cloud.Dir -Recurse -Filter '*.df-backup-*' }
}

Describe 'Test-DfConfiguration' {
    BeforeEach { Set-NodeConfiguration $cloud }

    It 'reports the Pike to Queens findings of every node''s file, by node, file and line, and changes nothing' {
        $findings = $cloud.Nodes | Test-DfConfiguration -TargetRelease queens @ssh
        foreach ($node in $cloud.Nodes) {
            $mine = @($findings | Where-Object Node -EQ $node.Name)
            $mine.Path | Select-Object -Unique | Should -Be $node.ConfigFiles[0]
            ($mine | ForEach-Object { "$($_.Line) $($_.Kind) [$($_.Group)] $($_.Option)" }) | Should -Be @(
                '6 DeprecatedForRemoval [df] remote_db_ip'
                '7 DeprecatedForRemoval [df] remote_db_port'
                '27 DeprecatedForRemoval [df_dnat_app] external_network_bridge'
                '28 DeprecatedForRemoval [df_dnat_app] int_peer_patch_port'
                '29 DeprecatedForRemoval [df_dnat_app] ex_peer_patch_port'
                '33 DeprecatedForRemoval [df_snat_app] enable_goto_flows'
                '41 Unknown [df-cassandra] consistency_level'
            )
        }
        $findings[0] | Should -BeOfType ([DragonflowUpgrade.Dragonflow.Configuration.ConfigurationFinding])
        foreach ($file in $cloud.Files) { Get-Bytes $file | Should -Be $pikeBytes }
    }

    It 'shows the findings grouped by node and file, a line per option' {
        $text = $cloud.Nodes[0] | Test-DfConfiguration -TargetRelease queens @ssh | Out-String -Width 250
        $text | Should -Match "File: $($cloud.Nodes[0].Name): $([regex]::Escape($cloud.Files[0]))"
        $text | Should -Match '27 DeprecatedForRemoval df_dnat_app\s+external_network_bridge\s+\[df_dnat_app\] external_network_bridge is deprecated for removal in queens'
    }

    It 'reports a rename with the name the target release reads' {
        $renamed = $cloud.Nodes[0] | Test-DfConfiguration -TargetRelease $next -SourceRelease queens @ssh | Where-Object Kind -EQ Renamed
        ($renamed | ForEach-Object { "$($_.Line) [$($_.Group)] $($_.Option) -> [$($_.NewGroup)] $($_.NewOption)" }) |
            Should -Be @('9 [df] nb_db_class -> [df] nb_db_driver', '32 [df_snat_app] external_network_bridge -> [df_external] bridge')
    }
}

Describe 'Update-DfConfiguration' {
    BeforeEach {
        Set-NodeConfiguration $cloud
        Get-NodeBackup | Remove-Item
        $backups = Join-Path $TestDrive "backups-$([guid]::NewGuid().ToString('N'))"
    }

    It 'changes nothing from Pike to Queens, which renames no option' {
        $out = $cloud.Nodes | Update-DfConfiguration -TargetRelease queens -BackupPath $backups @ssh -Confirm:$false
        $out | Should -BeNullOrEmpty
        foreach ($file in $cloud.Files) { Get-Bytes $file | Should -Be $pikeBytes }
        Get-NodeBackup | Should -BeNullOrEmpty
        $backups | Should -Not -Exist
    }

    It 'with -WhatIf shows each rename per node and file, and writes nothing anywhere' {
        $out = Get-HostOutput { $cloud.Nodes | Update-DfConfiguration -TargetRelease $next -SourceRelease queens -BackupPath $backups @ssh -WhatIf }
        foreach ($node in $cloud.Nodes) {
            $out | Should -BeLike "*What if: *Rename 2 option(s) in $($node.ConfigFiles[0]) on $($node.Name) ($($node.Address)):*line 9: ``[df``] nb_db_class -> ``[df``] nb_db_driver*line 32: ``[df_snat_app``] external_network_bridge -> ``[df_external``] bridge*"
        }
        foreach ($file in $cloud.Files) { Get-Bytes $file | Should -Be $pikeBytes }
        Get-NodeBackup | Should -BeNullOrEmpty
        $backups | Should -Not -Exist
    }

    It 'renames in place, keeps every other byte, and keeps the original on the node and here (0600)' {
        $changes = $cloud.Nodes | Update-DfConfiguration -TargetRelease $next -SourceRelease queens -BackupPath $backups @ssh -Confirm:$false
        @($changes).Count | Should -Be 2
        $pike = [IO.File]::ReadAllText($PikeIni)
        $snat = $pike.IndexOf("[df_snat_app]`nexternal_network_bridge = br-ex`n")
        $expected = $pike.Remove($snat + "[df_snat_app]`n".Length, "external_network_bridge = br-ex`n".Length).Replace('nb_db_class = ', 'nb_db_driver = ') + "`n[df_external]`nbridge = br-ex`n"
        foreach ($change in $changes) {
            $change | Should -BeOfType ([DragonflowUpgrade.Remote.ConfigurationChange])
            $change.Renamed | Should -Be @('[df] nb_db_class -> [df] nb_db_driver', '[df_snat_app] external_network_bridge -> [df_external] bridge')
            [IO.File]::ReadAllText($change.Path) | Should -BeExactly $expected
            Get-Bytes $change.NodeBackup | Should -Be $pikeBytes
            $change.NodeBackup | Should -BeLike "$($change.Path).df-backup-*"
            Get-Bytes $change.Backup | Should -Be $pikeBytes
            $change.Backup | Should -BeLike "$backups/$($change.Node.Name)/*"
            [int](Get-Item $change.Backup).UnixFileMode | Should -Be ([Convert]::ToInt32('600', 8))
        }
        # And Queens' findings are the ones left.
        $cloud.Nodes[0] | Test-DfConfiguration -TargetRelease $next -SourceRelease queens @ssh | Where-Object Kind -EQ Renamed | Should -BeNullOrEmpty
    }

    It 'leaves alone a file whose new name is already set, and says which line to remove' {
        Set-NodeConfiguration $cloud "[df]`nnb_db_class = a`nnb_db_driver = b`n"
        $out = $cloud.Nodes[0] | Update-DfConfiguration -TargetRelease $next -SourceRelease queens -BackupPath $backups @ssh -Confirm:$false
        $out | Should -BeNullOrEmpty
        [IO.File]::ReadAllText($cloud.Files[0]) | Should -BeExactly "[df]`nnb_db_class = a`nnb_db_driver = b`n"
        ($cloud.Nodes[0] | Test-DfConfiguration -TargetRelease $next -SourceRelease queens @ssh).Message | Should -BeLike '*also sets: that one wins. Remove line 2.'
    }
}

Describe 'Restore-DfConfiguration' {
    BeforeEach {
        Set-NodeConfiguration $cloud
        $backups = Join-Path $TestDrive "backups-$([guid]::NewGuid().ToString('N'))"
        $changes = $cloud.Nodes | Update-DfConfiguration -TargetRelease $next -SourceRelease queens -BackupPath $backups @ssh -Confirm:$false
        # The changes come in the order the nodes finish: the first node's, by its file.
        $first = $changes | Where-Object Path -EQ $cloud.Files[0]
    }

    It 'puts every changed file back as it was, from Update''s output by pipeline' {
        $restored = $changes | Restore-DfConfiguration @ssh -Confirm:$false
        @($restored).Count | Should -Be 2
        foreach ($file in $cloud.Files) { Get-Bytes $file | Should -Be $pikeBytes }
    }

    It 'with -WhatIf names each file and its backup, and writes nothing' {
        $updated = Get-Bytes $cloud.Files[0]
        $out = Get-HostOutput { $changes | Restore-DfConfiguration @ssh -WhatIf }
        $out | Should -BeLike "*$($cloud.Files[0]) on $($cloud.Nodes[0].Name) *from $($first.Backup)*"
        Get-Bytes $cloud.Files[0] | Should -Be $updated
    }

    It 'leaves a file changed since the update unless -Force' {
        Add-Content $cloud.Files[0] '# edited after the update'
        $edited = Get-Bytes $cloud.Files[0]
        $restored = $changes | Restore-DfConfiguration @ssh -Confirm:$false -ErrorVariable errors -ErrorAction SilentlyContinue
        @($restored).Count | Should -Be 1
        $errors.Count | Should -Be 1
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'ConfigFileChanged,*'
        $errors[0].Exception.Message | Should -Be "$($cloud.Nodes[0].Name): $($cloud.Files[0]) changed since it was read: it was left as it is."
        Get-Bytes $cloud.Files[0] | Should -Be $edited
        Get-Bytes $cloud.Files[1] | Should -Be $pikeBytes

        $first | Restore-DfConfiguration @ssh -Confirm:$false -Force | Should -Not -BeNullOrEmpty
        Get-Bytes $cloud.Files[0] | Should -Be $pikeBytes
    }
}
